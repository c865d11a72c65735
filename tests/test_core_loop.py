"""End to end: an SMS in, a confirmation out, the reminder delivered on time through the real SDK."""

from __future__ import annotations

import re
import time
import uuid

from sqlalchemy import select

from bot.models import Reminder, Status
from tests.conftest import ALICE, BOB, BOT_NUMBER, json_of, post_signed, wait_until
from tests.signing import message_received

CONFIRMATION = re.compile(r"Got it \(#([a-z0-9]{4,8})\)")


def _text(client, signer, text, sender=ALICE, **ids):
    response = post_signed(client, signer, message_received(text, sender, **ids))
    assert response.status_code == 200, response.get_data(as_text=True)
    return json_of(response)


def _reply_to(fake_telnyx, number, count=1):
    assert fake_telnyx.wait_for(lambda sent: len([m for m in sent if m.to == number]) >= count, timeout=10)
    return [m for m in fake_telnyx.delivered(number)][count - 1]


def test_remind_me_confirms_and_delivers_once(client, signer, fake_telnyx):
    sent_at = time.monotonic()
    _text(client, signer, "Remind me in 2 seconds: Call Mom")
    confirmation = _reply_to(fake_telnyx, ALICE)
    assert confirmation.received_at - sent_at < 1.0  # the reply does not wait for the poll interval
    match = CONFIRMATION.search(confirmation.text)
    assert match, confirmation.text
    assert '"Call Mom"' in confirmation.text and "to you" in confirmation.text
    assert f'cancel {match.group(1)}' in confirmation.text
    assert confirmation.from_number == BOT_NUMBER
    assert confirmation.authorization == "Bearer KEY_TEST_0123"

    reminder = _reply_to(fake_telnyx, ALICE, count=2)
    assert reminder.text == "Reminder: Call Mom"
    lateness = reminder.received_at - (sent_at + 2)
    assert -0.05 < lateness < 0.9, lateness
    assert not fake_telnyx.wait_for(lambda sent: len(sent) > 2, timeout=1.0)  # exactly once


def test_reminder_for_someone_else_names_the_sender(client, signer, fake_telnyx):
    _text(client, signer, "remind +1 646 555 0199 in 1 second: dinner?")
    confirmation = _reply_to(fake_telnyx, ALICE)
    assert "+1 646-555-0199" in confirmation.text
    delivered = _reply_to(fake_telnyx, BOB)
    assert delivered.text.startswith("Reminder from +1 212-555-0147")
    assert "STOP" in delivered.text  # first contact: how to opt out
    assert delivered.text.endswith(": dinner?")


def test_list_and_cancel(app, client, signer, fake_telnyx):
    _text(client, signer, "remind me tomorrow 9am: call mom")
    _text(client, signer, "remind me in 3 hours: water plants")
    first = CONFIRMATION.search(_reply_to(fake_telnyx, ALICE, 1).text).group(1)
    second = CONFIRMATION.search(_reply_to(fake_telnyx, ALICE, 2).text).group(1)

    _text(client, signer, "LIST")
    listing = _reply_to(fake_telnyx, ALICE, 3).text
    assert listing.index(f"#{second}") < listing.index(f"#{first}")  # soonest first
    assert "call mom" in listing and "water plants" in listing

    _text(client, signer, f"cancel #{first}")
    assert f"Cancelled #{first}" in _reply_to(fake_telnyx, ALICE, 4).text
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Reminder, first).status == Status.CANCELLED
        assert session.get(Reminder, second).status == Status.SCHEDULED

    _text(client, signer, "list")
    assert f"#{first}" not in _reply_to(fake_telnyx, ALICE, 5).text


def test_cancel_of_someone_elses_id_looks_unknown(app, client, signer, fake_telnyx):
    _text(client, signer, "remind me in 1 hour: secret", sender=BOB)
    bobs = CONFIRMATION.search(_reply_to(fake_telnyx, BOB).text).group(1)
    _text(client, signer, f"cancel {bobs}")
    foreign = _reply_to(fake_telnyx, ALICE).text
    _text(client, signer, "cancel zzzz99")
    unknown = _reply_to(fake_telnyx, ALICE, 2).text
    assert foreign.replace(bobs, "ID") == unknown.replace("zzzz99", "ID")
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Reminder, bobs).status == Status.SCHEDULED


def test_duplicate_message_id_creates_nothing_twice(app, client, signer, fake_telnyx):
    message_id = str(uuid.uuid4())
    first = _text(client, signer, "remind me in 1 hour: once", message_id=message_id)
    again = _text(client, signer, "remind me in 1 hour: once", message_id=message_id)  # new event id
    assert (first["status"], again["status"]) == ("handled", "duplicate")
    assert fake_telnyx.wait_for(lambda sent: len(sent) >= 1)
    assert not fake_telnyx.wait_for(lambda sent: len(sent) > 1, timeout=0.7)
    with app.extensions["bot"].session_factory() as session:
        assert len(session.scalars(select(Reminder).where(Reminder.kind == "reminder")).all()) == 1


def test_duplicate_event_id_creates_nothing_twice(app, client, signer, fake_telnyx):
    event_id = str(uuid.uuid4())
    assert _text(client, signer, "list", event_id=event_id)["status"] == "handled"
    assert _text(client, signer, "list", event_id=event_id)["status"] == "duplicate"


def test_gibberish_gets_a_helpful_reply(client, signer, fake_telnyx):
    _text(client, signer, "asdf qwerty")
    reply = _reply_to(fake_telnyx, ALICE).text
    assert "remind me" in reply.lower()


def test_help_lists_the_commands(client, signer, fake_telnyx):
    _text(client, signer, "help")
    reply = _reply_to(fake_telnyx, ALICE).text
    for word in ("remind", "list", "cancel", "STOP"):
        assert word in reply


def test_huge_text_gets_a_polite_reply(client, signer, fake_telnyx):
    _text(client, signer, "remind me in 1 hour: " + "x" * 5000)
    reply = _reply_to(fake_telnyx, ALICE).text
    assert "too long" in reply.lower()


def test_own_number_and_short_codes_get_no_reply(client, signer, fake_telnyx):
    assert _text(client, signer, "help", sender=BOT_NUMBER)["status"] == "ignored"
    assert _text(client, signer, "help", sender="12345")["status"] == "ignored"
    assert _text(client, signer, "help", sender="ACMEBANK")["status"] == "ignored"
    assert not fake_telnyx.wait_for(lambda sent: len(sent) > 0, timeout=0.7)


def test_times_are_read_in_the_senders_zone(client, signer, fake_telnyx):
    _text(client, signer, "remind me tomorrow 9am: call mom")  # a New York number
    confirmation = _reply_to(fake_telnyx, ALICE).text
    assert "at 9:00 AM E" in confirmation  # EST or EDT
