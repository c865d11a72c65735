"""Conversations through the real webhook: signed SMS in, the real Telnyx SDK against the fake out.

Each dialogue runs on SQLite and on PostgreSQL, with the bot's clock set by the test, so a
question can expire and a reminder can fall due without waiting for either.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import telnyx  # noqa: F401 (the SDK loads lazily, in seconds on a busy machine: paid here, not in a reply's wait)
from sqlalchemy import select

from bot.language.commands import QUESTION_TTL_SECONDS
from bot.language.segments import segment_count
from bot.storage import queries
from bot.storage.models import Kind, Reminder, Status
from tests.conftest import ALICE, BOB, SetClock, nth_message_to, send_sms, settle, wait_until

# Tue Dec 1, 8:49 PM in New York (ALICE's zone): "at 5" is nearest at 5 AM, a sleeping hour.
EVENING = datetime(2026, 12, 2, 1, 49, tzinfo=timezone.utc)
MORNING = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)  # Tue Dec 1, 10:00 AM in New York
CONFIRMED = re.compile(r"Got it \(#([a-z0-9]{4,8})\)")
AUTH = {"Authorization": "Bearer test-token-0123456789"}


class Chat:
    """One number texting the bot: each ``say`` returns the bot's next reply to it."""

    def __init__(self, app: Any, signer: Any, fake: Any, number: str = ALICE) -> None:
        self.app, self.client, self.signer, self.fake, self.number = app, app.test_client(), signer, fake, number
        self.replies = 0

    def say(self, text: str) -> str:
        outcome = send_sms(self.client, self.signer, text, sender=self.number)
        assert outcome["status"] == "handled", outcome
        self.replies += 1
        return nth_message_to(self.fake, self.number, self.replies).text

    def say_nothing_back(self, text: str) -> None:
        outcome = send_sms(self.client, self.signer, text, sender=self.number)
        assert outcome == {"status": "handled", "command": "ignore"}, outcome
        settle(self.app)
        assert len(self.fake.delivered(self.number)) == self.replies

    def received(self) -> list[str]:
        return [message.text for message in self.fake.delivered(self.number)]


@pytest.fixture
def clock() -> SetClock:
    return SetClock(EVENING)


@pytest.fixture
def app(database_url, app_factory, clock):
    return app_factory(DATABASE_URL=database_url, clock=clock, THIRD_PARTY_CONSENT="notice")


@pytest.fixture
def alice(app, signer, fake_telnyx) -> Chat:
    return Chat(app, signer, fake_telnyx)


def _reminders(app: Any) -> list[Reminder]:
    with app.extensions["bot"].session_factory() as session:
        return list(session.scalars(select(Reminder).where(Reminder.kind == Kind.REMINDER)
                                    .order_by(Reminder.created_at, Reminder.send_at)))


def _row(app: Any, reminder_id: str) -> Reminder:
    with app.extensions["bot"].session_factory() as session:
        return session.get(Reminder, reminder_id)


def _confirmed_id(reply: str) -> str:
    match = CONFIRMED.search(reply)
    assert match, reply
    return match.group(1)


# --- questions: asked, answered, expired, interrupted -----------------------------------------

def test_a_night_hour_is_asked_about_and_the_answer_sets_the_reminder(app, alice):
    question = alice.say("remind me to call mom at 5")
    assert question == 'Did you mean 5:00 AM or 5:00 PM (Wed Dec 2)? Reply "am" or "pm".'
    assert _reminders(app) == []  # nothing is confirmed on a guess

    confirmation = alice.say("pm")
    reminder = _row(app, _confirmed_id(confirmation))
    assert "Wed Dec 2 at 5:00 PM EST" in confirmation and '"call mom"' in confirmation
    assert reminder.send_at == datetime(2026, 12, 2, 22, 0, tzinfo=timezone.utc)  # the stated time, stored
    assert segment_count(confirmation) == 1
    assert alice.say("pm").startswith("Sorry")  # answered: the question is gone


def test_a_time_without_text_asks_what_to_say(app, alice, clock):
    clock.now = MORNING
    assert alice.say("remind me tomorrow 9am") == "What should the reminder say?"
    confirmation = alice.say("Call the dentist")
    assert '"Call the dentist"' in confirmation and "Wed Dec 2 at 9:00 AM EST" in confirmation
    assert [r.text for r in _reminders(app)] == ["Call the dentist"]


def test_an_answer_after_the_question_expired_is_refused_politely(app, alice, clock):
    alice.say("remind me to call mom at 5")
    clock.now += timedelta(seconds=QUESTION_TTL_SECONDS + 60)
    late = alice.say("pm")
    assert "send the reminder again" in late.lower() or "expired" in late.lower(), late
    assert _reminders(app) == []


def test_another_command_keeps_the_question_open(app, alice):
    alice.say("remind me to call mom at 5")
    assert alice.say("list").startswith("You have no pending reminders")
    confirmation = alice.say("evening")
    assert "at 5:00 PM EST" in confirmation
    assert len(_reminders(app)) == 1


def test_the_question_is_stored_so_any_instance_hears_the_answer(database_url, app, alice, app_factory, clock,
                                                                 signer, fake_telnyx):
    alice.say("remind me to call mom at 5")
    other = app_factory(DATABASE_URL=database_url, clock=clock, THIRD_PARTY_CONSENT="notice")
    with other.extensions["bot"].session_factory() as session:
        assert queries.load_question(session, alice.number) is not None
    answer = send_sms(other.test_client(), signer, "5pm", sender=alice.number)
    assert answer["status"] == "handled"
    assert "at 5:00 PM EST" in nth_message_to(fake_telnyx, alice.number, 2).text


# --- nothing to answer -----------------------------------------------------------------------------

def test_thanks_ok_and_an_emoji_send_nothing(app, alice):
    for text in ("thanks!", "ok", "👍", "Thank you so much"):
        alice.say_nothing_back(text)  # asserts that no message went out
    with app.extensions["bot"].session_factory() as session:
        assert session.scalars(select(Reminder)).all() == []  # not even a reply row waiting


# --- delete all --------------------------------------------------------------------------------

def test_delete_all_asks_first_and_yes_deletes(app, alice, clock):
    clock.now = MORNING
    for hour in (1, 2, 3):
        alice.say(f"remind me in {hour} hours: task {hour}")
    assert alice.say("delete all") == "Delete all 3 of your pending reminders? Reply yes to confirm."
    assert all(r.status == Status.SCHEDULED for r in _reminders(app))
    assert alice.say("yes") == "Deleted all 3 of your pending reminders."
    assert all(r.status == Status.CANCELLED for r in _reminders(app))


def test_no_to_delete_all_deletes_nothing(app, alice, clock):
    clock.now = MORNING
    alice.say("remind me in 1 hour: keep me")
    alice.say("delete all")
    assert alice.say("no") == "OK, nothing deleted."
    assert [r.status for r in _reminders(app)] == [Status.SCHEDULED]


# --- managing reminders ----------------------------------------------------------------------

def test_move_edit_snooze_and_done(app, alice, clock, fake_telnyx):
    clock.now = MORNING
    reminder_id = _confirmed_id(alice.say("remind me in 5 minutes: call mom"))
    assert alice.say(f"move {reminder_id} to 11am") == f'Moved #{reminder_id} "call mom" to Tue Dec 1 at 11:00 AM EST.'
    assert alice.say(f"edit {reminder_id}: call dad") == f'Changed #{reminder_id} to "call dad".'
    assert alice.say(f"snooze {reminder_id} 2h").startswith(f"Snoozed (#{reminder_id}) until Tue Dec 1 at 12:00 PM")

    clock.now += timedelta(hours=2, minutes=1)
    delivered = nth_message_to(fake_telnyx, ALICE, alice.replies + 1).text
    alice.replies += 1
    assert delivered == 'Reminder: call dad\nReply "snooze 10" or "done".'
    # The fake sees the message a moment before the dispatcher records it as sent.
    assert wait_until(lambda: _row(app, reminder_id).status == Status.SENT)
    assert alice.say("done") == f'Done: "call dad" (#{reminder_id}).'
    assert f"#{reminder_id} call dad: done" in alice.say("list")


# --- list ---------------------------------------------------------------------------------------

def test_list_pages_with_more(app, alice, clock):
    clock.now = MORNING
    ids = [_confirmed_id(alice.say(f"remind me in {n} hours: errand {n} 🛒")) for n in range(1, 9)]
    first = alice.say("list")
    assert first.startswith("Your reminders (8):") and 'Reply "more" for' in first
    assert segment_count(first) <= 4
    shown, page = re.findall(r"^#([a-z0-9]+)", first, re.MULTILINE), first
    while 'Reply "more"' in page:
        page = alice.say("more")
        assert segment_count(page) <= 4
        shown += re.findall(r"^#([a-z0-9]+)", page, re.MULTILINE)
    assert shown == ids


# --- opting out and back in ----------------------------------------------------------------------

def test_stop_counts_what_will_not_be_sent_and_start_names_what_was_skipped(app, alice, clock, fake_telnyx):
    clock.now = MORNING
    first = _confirmed_id(alice.say("remind me in 5 minutes: call mom"))
    alice.say("remind me tomorrow 9am: gym")
    stop = alice.say("STOP")
    assert stop == ("You're unsubscribed and will get no more messages from this number. "
                    "2 pending reminders to you won't be sent. Text START to resume.")
    clock.now += timedelta(minutes=10)
    settle(app)
    assert _row(app, first).error == "opted_out"
    start = alice.say("START")
    assert f'1 reminder was not sent: #{first} "call mom".' in start
    assert len(alice.received()) == alice.replies  # nothing reached the number while it was opted out


# --- the budget over the API ------------------------------------------------------------------

def test_the_api_refuses_a_text_that_needs_more_than_ten_segments(app):
    response = app.test_client().post("/v1/message/schedule", headers=AUTH, json={
        "number": BOB, "minutes": 5, "message": "🎉 party planning " * 45})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "message_too_long" and error["field"] == "message" and "segments" in error["message"]
