"""Issue 14's handlers through Bot.handle_sms (no HTTP): move, edit, done, snooze <id>, delete all, more,
the list's pages and last day, STOP and START counts, the reminder's hint, and the segment budget.

Replies are read from the outcome; deliveries go through the real SDK to the fake Telnyx, one
dispatcher tick at a time on a clock the test sets.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from sqlalchemy import select

from bot.api.messages import After, InvalidRequest, NewMessage
from bot.conversation.inbound import InboundOutcome, InboundSms
from bot.language.commands import Question, QuestionKind, Remind
from bot.language.segments import MAX_SEGMENTS, segment_count
from bot.service import Bot
from bot.settings import load_settings
from bot.storage import queries
from bot.storage.models import Kind, Reminder, Status
from tests.conftest import ALICE, BOB, BOT_NUMBER, SetClock
from tests.fake_telnyx import FakeTelnyx, Reply

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)  # Tue Dec 1, 10:00 AM in New York (ALICE's zone)


def _make_bot(url: str, fake: FakeTelnyx, **overrides: Any) -> tuple[Bot, SetClock]:
    clock = SetClock(T0)
    settings = load_settings({}, {
        "DATABASE_URL": url, "TELNYX_API_KEY": "KEY_TEST_0123", "TELNYX_PHONE_NUMBER": BOT_NUMBER,
        "TELNYX_BASE_URL": fake.url, "BOT_TIMEZONE": "UTC", "RETRY_BASE_SECONDS": 0.05, "RETRY_MAX_SECONDS": 0.2,
        "THIRD_PARTY_CONSENT": "notice", **overrides})
    return Bot(settings, clock=clock), clock


@pytest.fixture
def made(tmp_path: Any, fake_telnyx: FakeTelnyx) -> Iterator[list[Bot]]:
    bots: list[Bot] = []
    yield bots
    for bot in bots:
        bot.shutdown()
        bot.engine.dispose()


@pytest.fixture
def bot(made: list[Bot], tmp_path: Any, fake_telnyx: FakeTelnyx) -> Bot:
    """A bot on SQLite: for what does not depend on the database's dialect."""
    instance, _ = _make_bot(f"sqlite:///{tmp_path / 'bot.db'}", fake_telnyx)
    made.append(instance)
    return instance


@pytest.fixture
def any_bot(made: list[Bot], database_url: str, fake_telnyx: FakeTelnyx) -> Bot:
    """A bot on SQLite, then on PostgreSQL: for the conditional UPDATEs and upserts."""
    instance, _ = _make_bot(database_url, fake_telnyx)
    made.append(instance)
    return instance


def text(bot: Bot, body: str, sender: str = ALICE) -> InboundOutcome:
    """Text the bot and return what it made of it."""
    return bot.handle_sms(InboundSms(str(uuid.uuid4()), sender, body))


def reply(bot: Bot, body: str, sender: str = ALICE) -> str:
    outcome = text(bot, body, sender)
    assert outcome.status == "handled" and outcome.reply is not None, outcome
    return outcome.reply


def set_reminder(bot: Bot, body: str, sender: str = ALICE) -> str:
    outcome = text(bot, body, sender)
    assert outcome.created, outcome
    return outcome.created[0]


def row(bot: Bot, reminder_id: str) -> Reminder:
    with bot.session_factory() as session:
        found = session.get(Reminder, reminder_id)
        assert found is not None
        session.expunge(found)
        return found


def advance(bot: Bot, delta: timedelta) -> None:
    bot.clock.now += delta  # type: ignore[attr-defined]


def deliver(bot: Bot) -> None:
    """Send everything due by the bot's clock."""
    bot.dispatcher.tick()


def reminders_to(fake: FakeTelnyx, number: str) -> list[str]:
    return [m.text for m in fake.delivered(number) if m.text.startswith("Reminder")]


# --- the stored question -----------------------------------------------------------------------

def test_a_stored_question_comes_back_equal_with_its_zones(any_bot):
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    question = Question(QuestionKind.WHICH_TIME, T0, (
        Remind(ALICE, datetime(2026, 12, 2, 5, 0, tzinfo=paris), "call mom"),
        Remind(ALICE, datetime(2026, 12, 2, 17, 0, tzinfo=paris), "call mom — ✓", "FREQ=WEEKLY;BYDAY=MO",
               datetime(2026, 12, 2, 17, 0))))
    with any_bot.session_factory() as session, session.begin():
        assert queries.load_question(session, ALICE) is None
        queries.store_question(session, ALICE, question, T0)
        queries.store_list_offset(session, ALICE, 5, T0)  # the page does not disturb the question
    with any_bot.session_factory() as session, session.begin():
        loaded = queries.load_question(session, ALICE)
        assert loaded == question and loaded.kind is QuestionKind.WHICH_TIME
        assert [option.send_at.tzinfo for option in loaded.options] == [paris, paris]  # the zone, not an offset
        assert queries.list_offset(session, ALICE) == 5
        queries.store_question(session, ALICE, None, T0)
    with any_bot.session_factory() as session:
        assert queries.load_question(session, ALICE) is None and queries.list_offset(session, ALICE) == 5


# --- move, edit, done, snooze <id> --------------------------------------------------------------

def test_move_reschedules_only_your_own_scheduled_reminder(any_bot):
    reminder_id = set_reminder(any_bot, "remind me tomorrow 9am: call mom")
    before = row(any_bot, reminder_id)

    answer = reply(any_bot, f"move {reminder_id} to friday 5pm")
    assert answer == f'Moved #{reminder_id} "call mom" to Fri Dec 4 at 5:00 PM EST.'
    assert segment_count(answer) == 1
    moved = row(any_bot, reminder_id)
    assert moved.send_at == moved.due_at == datetime(2026, 12, 4, 22, 0, tzinfo=timezone.utc)
    assert moved.occurrence == before.occurrence + 1  # a fresh Idempotency-Key for the new time

    refused = reply(any_bot, f"move {reminder_id} to saturday 6pm", sender=BOB)
    assert refused == reply(any_bot, "move zz99 to saturday 6pm", sender=BOB).replace("zz99", reminder_id)
    assert row(any_bot, reminder_id).send_at == moved.send_at


def test_moving_a_series_keeps_its_rule_from_the_new_time(bot):
    reminder_id = set_reminder(bot, "remind me every day at 8am: pills")
    answer = reply(bot, f"change {reminder_id} to tomorrow 6pm")
    assert answer.startswith(f'Moved #{reminder_id} "pills" to Wed Dec 2 at 6:00 PM EST, then every day')
    moved = row(bot, reminder_id)
    assert moved.recurrence == "FREQ=DAILY" and moved.series_anchor == datetime(2026, 12, 2, 18, 0)


def test_move_says_why_a_sent_reminder_cannot_move(bot, fake_telnyx):
    reminder_id = set_reminder(bot, "remind me in 1 minute: stretch")
    advance(bot, timedelta(minutes=2))
    deliver(bot)
    assert reminders_to(fake_telnyx, ALICE)
    assert reply(bot, f"move {reminder_id} to 6pm") == \
        f'#{reminder_id} was already sent, so it can\'t be moved. Text "list" to see your reminders.'


def test_edit_rewrites_the_text_of_your_own_reminder(any_bot):
    reminder_id = set_reminder(any_bot, "remind me tomorrow 9am: call mom")
    assert reply(any_bot, f"edit {reminder_id}: call dad") == f'Changed #{reminder_id} to "call dad".'
    assert row(any_bot, reminder_id).text == "call dad"
    reply(any_bot, f"edit {reminder_id}: hijacked", sender=BOB)
    assert row(any_bot, reminder_id).text == "call dad"


def test_done_marks_the_reminder_that_just_arrived_and_the_list_shows_it(any_bot, fake_telnyx):
    reminder_id = set_reminder(any_bot, "remind me in 1 minute: take pills")
    assert reply(any_bot, "done").startswith("There's no recent reminder to mark done")
    advance(any_bot, timedelta(minutes=2))
    deliver(any_bot)
    assert reminders_to(fake_telnyx, ALICE) == ['Reminder: take pills\nReply "snooze 10" or "done".']

    assert reply(any_bot, "done") == f'Done: "take pills" (#{reminder_id}).'
    assert row(any_bot, reminder_id).done_at == any_bot.clock()
    assert f"#{reminder_id} take pills: done" in reply(any_bot, "list")


def test_done_with_an_id_that_has_not_been_sent_says_so(bot):
    reminder_id = set_reminder(bot, "remind me tomorrow 9am: call mom")
    assert reply(bot, f"done {reminder_id}") == \
        f'#{reminder_id} hasn\'t been sent yet. Reply "delete {reminder_id}" if you no longer need it.'
    assert row(bot, reminder_id).done_at is None


def test_snooze_with_an_id_works_on_any_of_your_reminders(any_bot, fake_telnyx):
    later = set_reminder(any_bot, "remind me tomorrow 9am: call mom")
    sent = set_reminder(any_bot, "remind me in 1 minute: stretch")
    advance(any_bot, timedelta(minutes=2))
    deliver(any_bot)
    set_reminder(any_bot, "remind me in 1 minute: water")  # arrives after "stretch": plain "snooze" means it
    advance(any_bot, timedelta(minutes=2))
    deliver(any_bot)
    now = any_bot.clock()

    assert reply(any_bot, f"snooze {sent} 1h").startswith(f"Snoozed (#{sent}) until ")
    assert row(any_bot, sent).status == Status.SCHEDULED and row(any_bot, sent).send_at == now + timedelta(hours=1)
    assert reply(any_bot, f"snooze {later} 2h").startswith(f"Snoozed (#{later}) until ")
    assert row(any_bot, later).send_at == now + timedelta(hours=2)
    assert "couldn't find" in reply(any_bot, f"snooze {later} 3h", sender=BOB)
    assert row(any_bot, later).send_at == now + timedelta(hours=2)


# --- delete all, thanks ---------------------------------------------------------------------------

def test_delete_all_asks_with_the_count_and_keeps_the_question(any_bot):
    for hour in (1, 2, 3):
        set_reminder(any_bot, f"remind me in {hour} hours: task {hour}")
    set_reminder(any_bot, "remind me in 1 hour: bob's own", sender=BOB)
    assert reply(any_bot, "delete all") == "Delete all 3 of your pending reminders? Reply yes to confirm."
    with any_bot.session_factory() as session:
        asked = queries.load_question(session, ALICE)
    assert asked is not None and asked.kind == QuestionKind.DELETE_ALL


def test_delete_all_with_nothing_pending_asks_nothing(bot):
    assert reply(bot, "delete all") == "You have no pending reminders to delete."
    with bot.session_factory() as session:
        assert queries.load_question(session, ALICE) is None


@pytest.mark.parametrize("body", ["thanks!", "ok", "👍", "Thank you 🙏"], ids=["thanks", "ok", "emoji", "thank you"])
def test_thanks_ok_and_emoji_get_no_reply_at_all(bot, body):
    outcome = text(bot, body)
    assert outcome.status == "handled" and outcome.reply is None
    with bot.session_factory() as session:
        assert session.scalars(select(Reminder).where(Reminder.kind == Kind.REPLY)).all() == []


# --- list: pages, repeats, the last day's sends --------------------------------------------------

def test_list_pages_with_more_and_stays_within_four_segments_with_an_emoji(any_bot):
    ids = [set_reminder(any_bot, f"remind me in {n} hours: task number {n} with a fairly long description")
           for n in range(1, 12)]
    ids.insert(2, set_reminder(any_bot, "remind me in 150 minutes: birthday cake 🎂 for the office party"))
    ids.append(set_reminder(any_bot, "remind me every day at 11pm: lock the door"))
    seen: list[str] = []
    page = reply(any_bot, "list")
    assert page.startswith(f"Your reminders ({len(ids)}):") and "(every day)" not in page
    while True:
        assert segment_count(page) <= 4, page
        seen += [line.split()[0][1:] for line in page.splitlines() if line.startswith("#")]
        if 'Reply "more"' not in page:
            break
        page = reply(any_bot, "more")
    assert seen == ids  # every reminder once, soonest first
    assert "(every day)" in page  # the series, on the last page
    assert reply(any_bot, "more") == 'That\'s the whole list. Text "list" to see it again.'
    assert reply(any_bot, "list").startswith(f"Your reminders ({len(ids)}):")  # "list" starts over


def test_list_shows_how_the_last_days_sends_fared(bot, fake_telnyx):
    delivered = set_reminder(bot, "remind me in 1 minute: call the bank")
    unconfirmed = set_reminder(bot, "remind me in 2 minutes: water plants")
    done = set_reminder(bot, "remind me in 3 minutes: take pills")
    advance(bot, timedelta(minutes=4))
    deliver(bot)
    provider_id = row(bot, delivered).provider_message_id
    assert bot.record_delivery_status(provider_id, "delivered")
    assert reply(bot, f"done {done}").startswith("Done:")
    opted_out = set_reminder(bot, "remind +1 646 555 0199 in 1 minute: dinner?")
    reply(bot, "STOP", sender=BOB)
    advance(bot, timedelta(minutes=2))
    deliver(bot)

    listing = reply(bot, "list")
    assert f"#{delivered} call the bank: delivered" in listing
    assert f"#{unconfirmed} water plants: sent, not yet confirmed" in listing
    assert f"#{done} take pills: done" in listing
    assert f"#{opted_out} dinner? to +1 646-555-0199: failed: they opted out" in listing


# --- STOP and START ---------------------------------------------------------------------------

def test_stop_says_how_many_reminders_will_not_come_and_start_names_the_skipped(bot, fake_telnyx):
    first = set_reminder(bot, "remind me in 5 minutes: call mom")
    second = set_reminder(bot, "remind me in 10 minutes: water the plants on the balcony")
    set_reminder(bot, "remind me tomorrow 9am: gym")
    assert reply(bot, "STOP") == ("You're unsubscribed and will get no more messages from this number. "
                                  "3 pending reminders to you won't be sent. Text START to resume.")
    advance(bot, timedelta(minutes=15))
    deliver(bot)
    assert row(bot, first).error == "opted_out"
    welcome = reply(bot, "START")
    assert welcome == (f"Welcome back! You'll get messages from this number again. While you were unsubscribed, "
                       f'2 reminders were not sent: #{first} "call mom", #{second} "water the plants on the bal...".')
    assert reply(bot, "START").endswith("Text HELP for how to use it.")  # nothing skipped since


# --- the reminder SMS and the segment budget ----------------------------------------------------

def test_the_reminder_ends_with_a_hint_only_when_it_costs_no_extra_segment(bot, fake_telnyx):
    short = set_reminder(bot, "remind me in 1 minute: stretch")
    series = set_reminder(bot, "remind me every day at 10:01am: drink water")
    full = "x" * (160 - len("Reminder: ") - 5)  # room for 5 more characters, not for the hint
    set_reminder(bot, f"remind me in 1 minute: {full}")
    advance(bot, timedelta(minutes=1, seconds=5))
    deliver(bot)
    sent = sorted(reminders_to(fake_telnyx, ALICE))
    assert f"Reminder: {full}" in sent
    assert 'Reminder: stretch\nReply "snooze 10" or "done".' in sent
    assert f'Reminder: drink water\nReply "delete {series}" to stop.' in sent
    assert all(segment_count(body) == 1 for body in sent)
    assert row(bot, short).outbound_text == 'Reminder: stretch\nReply "snooze 10" or "done".'  # retries resend it


def test_a_text_too_long_for_ten_segments_is_refused_when_set(bot):
    emoji = "🎉 party planning notes " * 30  # UCS-2: 67 characters a segment
    answer = reply(bot, f"remind me tomorrow 9am: {emoji}")
    assert answer.startswith("Sorry, that reminder is too long to send: it would take ") and "most is 10" in answer
    assert reply(bot, "remind me tomorrow 9am: " + "a" * 1500).startswith("Got it")  # 1510 GSM-7 characters fit
    with bot.session_factory() as session:
        assert len(session.scalars(select(Reminder).where(Reminder.kind == Kind.REMINDER)).all()) == 1
    with pytest.raises(InvalidRequest) as refused:
        bot.schedule_message(NewMessage(BOB, emoji, After(5), "minutes"), None)
    assert refused.value.code == "message_too_long" and refused.value.field == "message"


def test_auto_chunk_sends_a_long_text_in_parts_each_under_its_own_key(made, tmp_path, fake_telnyx):
    chunking, _ = _make_bot(f"sqlite:///{tmp_path / 'chunk.db'}", fake_telnyx, AUTO_CHUNK="true")
    made.append(chunking)
    words = "🎉 party planning notes " * 30
    reminder_id = set_reminder(chunking, f"remind me in 1 minute: {words}")
    deliver(chunking)  # the confirmation
    fake_telnyx.push(Reply(200), Reply(500))  # the second part fails once: the whole occurrence is retried
    advance(chunking, timedelta(minutes=2))
    deliver(chunking)
    assert row(chunking, reminder_id).status == Status.SCHEDULED  # waiting for its retry
    advance(chunking, timedelta(seconds=5))
    deliver(chunking)

    parts = [m for m in fake_telnyx.messages if m.to == ALICE and m.idempotency_key.startswith(reminder_id)]
    keys = [m.idempotency_key for m in parts]
    assert keys == [f"{reminder_id}-0-1", f"{reminder_id}-0-2", f"{reminder_id}-0-1", f"{reminder_id}-0-2"]
    assert parts[0].text == parts[2].text and parts[1].text == parts[3].text  # the same bytes on the retry
    assert all(segment_count(m.text) <= MAX_SEGMENTS for m in parts)
    assert (parts[0].text + " " + parts[3].text).replace("\n", " ").startswith("Reminder: 🎉 party planning")
    assert row(chunking, reminder_id).status == Status.SENT
