"""End to end: an SMS in, a confirmation out, the reminder delivered on time through the real SDK.

Each test runs for Telnyx and for Twilio (``@both_providers``), but the one about Telnyx's event ids.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from bot.storage.models import Reminder, Status
from tests.conftest import ALICE, BOB, BOT_NUMBER, both_providers, nth_message_to, send_sms, settle

CONFIRMATION = re.compile(r"Got it \(#([a-z0-9]{4,8})\)")


@both_providers
def test_remind_me_confirms_and_delivers_once(app_factory, signer, fake_sms, provider):
    # A 30 s poll interval: the reply and the reminder can only arrive within the waits below
    # because a queued reply wakes the dispatcher and the clock is pulled forward to the next due row.
    client = app_factory(DISPATCH_INTERVAL_SECONDS=30).test_client()
    send_sms(client, signer, "Remind me in 2 seconds: Call Mom")
    confirmation = nth_message_to(fake_sms, ALICE, 1, timeout=10)
    match = CONFIRMATION.search(confirmation.text)
    assert match, confirmation.text
    assert '"Call Mom"' in confirmation.text and "to you" in confirmation.text
    assert f'delete {match.group(1)}' in confirmation.text
    assert confirmation.from_number == BOT_NUMBER
    assert confirmation.authorization == ("Bearer KEY_TEST_0123" if provider == "telnyx" else fake_sms.authorization)

    reminder = nth_message_to(fake_sms, ALICE, 2, timeout=10)
    assert reminder.text == 'Reminder: Call Mom\nReply "snooze 10" or "done".'  # with the hint how to answer
    settle(client.application)
    assert len(fake_sms.messages) == 2  # exactly once: not even a repeated attempt
    with client.application.extensions["bot"].session_factory() as session:
        row = session.get(Reminder, match.group(1))
    assert row.send_at - row.created_at >= timedelta(seconds=1)  # "in 2 seconds" (the parser keeps whole seconds)
    assert row.sent_at >= row.send_at  # not early


@both_providers
def test_reminder_for_someone_else_names_the_sender(app_factory, signer, fake_sms):
    client = app_factory(THIRD_PARTY_CONSENT="notice").test_client()  # ask mode: tests/test_consent.py
    send_sms(client, signer, "remind +1 646 555 0199 in 1 second: dinner?")
    confirmation = nth_message_to(fake_sms, ALICE)
    assert "+1 646-555-0199" in confirmation.text
    delivered = nth_message_to(fake_sms, BOB)
    assert delivered.text.startswith("Reminder from +1 212-555-0147")
    assert "STOP" in delivered.text  # first contact: how to opt out
    assert delivered.text.endswith(': dinner?\nReply "snooze 10" or "done".')


@both_providers
def test_list_and_cancel(app, client, signer, fake_sms):
    send_sms(client, signer, "remind me tomorrow 9am: call mom")
    send_sms(client, signer, "remind me in 3 hours: water plants")
    first = CONFIRMATION.search(nth_message_to(fake_sms, ALICE, 1).text).group(1)
    second = CONFIRMATION.search(nth_message_to(fake_sms, ALICE, 2).text).group(1)

    send_sms(client, signer, "LIST")
    listing = nth_message_to(fake_sms, ALICE, 3).text
    assert listing.index(f"#{second}") < listing.index(f"#{first}")  # soonest first
    assert "call mom" in listing and "water plants" in listing

    send_sms(client, signer, f"cancel #{first}")
    assert f"Cancelled #{first}" in nth_message_to(fake_sms, ALICE, 4).text
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Reminder, first).status == Status.CANCELLED
        assert session.get(Reminder, second).status == Status.SCHEDULED

    send_sms(client, signer, "list")
    assert f"#{first}" not in nth_message_to(fake_sms, ALICE, 5).text


@both_providers
def test_cancel_of_someone_elses_id_looks_unknown(app, client, signer, fake_sms):
    send_sms(client, signer, "remind me in 1 hour: secret", sender=BOB)
    bobs = CONFIRMATION.search(nth_message_to(fake_sms, BOB).text).group(1)
    send_sms(client, signer, f"cancel {bobs}")
    foreign = nth_message_to(fake_sms, ALICE).text
    send_sms(client, signer, "cancel zzzz99")
    unknown = nth_message_to(fake_sms, ALICE, 2).text
    assert foreign.replace(bobs, "ID") == unknown.replace("zzzz99", "ID")
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Reminder, bobs).status == Status.SCHEDULED


@both_providers
def test_duplicate_message_id_creates_nothing_twice(app, client, signer, fake_sms):
    message_id = str(uuid.uuid4())
    first = send_sms(client, signer, "remind me in 1 hour: once", message_id=message_id)
    again = send_sms(client, signer, "remind me in 1 hour: once", message_id=message_id)  # new event id
    assert (first["status"], again["status"]) == ("handled", "duplicate")
    assert fake_sms.wait_for(lambda sent: len(sent) >= 1)
    settle(app)
    assert len(fake_sms.messages) == 1  # one reply
    with app.extensions["bot"].session_factory() as session:
        assert len(session.scalars(select(Reminder).where(Reminder.kind == "reminder")).all()) == 1


def test_duplicate_event_id_creates_nothing_twice(app, client, signer, fake_telnyx):
    event_id = str(uuid.uuid4())
    assert send_sms(client, signer, "list", event_id=event_id)["status"] == "handled"
    assert send_sms(client, signer, "list", event_id=event_id)["status"] == "duplicate"


@both_providers
def test_gibberish_gets_a_helpful_reply(client, signer, fake_sms):
    send_sms(client, signer, "asdf qwerty")
    reply = nth_message_to(fake_sms, ALICE).text
    assert "remind me" in reply.lower()


@both_providers
def test_help_lists_the_commands(client, signer, fake_sms):
    send_sms(client, signer, "help")
    reply = nth_message_to(fake_sms, ALICE).text
    for word in ("remind", "list", "delete", "STOP"):
        assert word in reply


@both_providers
def test_huge_text_gets_a_polite_reply(client, signer, fake_sms):
    send_sms(client, signer, "remind me in 1 hour: " + "x" * 5000)
    reply = nth_message_to(fake_sms, ALICE).text
    assert "too long" in reply.lower()


@both_providers
def test_own_number_and_short_codes_get_no_reply(client, signer, fake_sms):
    assert send_sms(client, signer, "help", sender=BOT_NUMBER)["status"] == "ignored"
    assert send_sms(client, signer, "help", sender="12345")["status"] == "ignored"
    assert send_sms(client, signer, "help", sender="ACMEBANK")["status"] == "ignored"
    settle(client.application)
    assert fake_sms.messages == []


@both_providers
def test_times_are_read_in_the_senders_zone(client, signer, fake_sms):
    send_sms(client, signer, "remind me tomorrow 9am: call mom")  # a New York number
    confirmation = nth_message_to(fake_sms, ALICE).text
    assert "at 9:00 AM E" in confirmation  # EST or EDT


@both_providers
def test_replies_to_one_number_arrive_in_the_order_the_messages_came(client, signer, fake_sms):
    for n in range(8):
        send_sms(client, signer, f"cancel zzzz{n:02d}")
    nth_message_to(fake_sms, ALICE, 8)
    replies = [m.text for m in fake_sms.delivered(ALICE)]
    assert replies == [f'I couldn\'t find a pending reminder #zzzz{n:02d} of yours. Text "list" to see them.'
                       for n in range(8)]
