"""Telnyx's delivery reports (message.sent, message.finalized) land on the reminder they belong to."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.storage.models import Kind, Reminder, Status
from tests.conftest import ALICE, json_of, post_signed, wait_until
from tests.fake_telnyx import ReceivedMessage
from tests.signing import message_received, message_status


def _deliver_a_reminder(app, client, signer, fake_telnyx) -> ReceivedMessage:
    """Text the bot a reminder due in a second; return what the fake received once the bot recorded it."""
    response = post_signed(client, signer, message_received("remind me in 1 second: water the plants", ALICE))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert fake_telnyx.wait_for(lambda sent: any("water the plants" in m.text and m.text.startswith(
        "Reminder") for m in sent), timeout=10)
    [sent] = [m for m in fake_telnyx.delivered(ALICE) if m.text.startswith("Reminder")]
    assert sent.provider_id
    assert wait_until(lambda: _reminder(app).status == Status.SENT)  # the fake answers before the bot records
    return sent


def _reminder(app) -> Reminder:
    with app.extensions["bot"].session_factory() as session:
        return session.scalars(select(Reminder).where(Reminder.kind == Kind.REMINDER)).one()


def _report(client, signer, event_type: str, provider_id: str, status: str) -> dict:
    response = post_signed(client, signer, message_status(event_type, provider_id, status, ALICE))
    assert response.status_code == 200, response.get_data(as_text=True)
    return json_of(response)


def test_sent_then_finalized_is_stored_on_the_reminder(app, client, signer, fake_telnyx):
    sent = _deliver_a_reminder(app, client, signer, fake_telnyx)
    row = _reminder(app)
    assert (row.status, row.provider_message_id, row.delivery_status) == (Status.SENT, sent.provider_id, "queued")

    assert _report(client, signer, "message.sent", sent.provider_id, "sent")["status"] == "recorded"
    row = _reminder(app)
    assert (row.delivery_status, row.provider_message_id) == ("sent", sent.provider_id)

    assert _report(client, signer, "message.finalized", sent.provider_id, "delivered")["status"] == "recorded"
    row = _reminder(app)
    assert (row.status, row.delivery_status, row.provider_message_id) == (
        Status.DELIVERED, "delivered", sent.provider_id)


def test_finalized_before_sent_does_not_regress(app, client, signer, fake_telnyx):
    sent = _deliver_a_reminder(app, client, signer, fake_telnyx)
    assert _report(client, signer, "message.finalized", sent.provider_id, "delivered")["status"] == "recorded"
    assert _report(client, signer, "message.sent", sent.provider_id, "sent")["status"] == "recorded"
    row = _reminder(app)
    assert (row.status, row.delivery_status, row.provider_message_id) == (
        Status.DELIVERED, "delivered", sent.provider_id)


@pytest.mark.parametrize("final", ["delivery_failed", "sending_failed"])
def test_failed_delivery_marks_the_reminder_failed(app, client, signer, fake_telnyx, final):
    sent = _deliver_a_reminder(app, client, signer, fake_telnyx)
    assert _report(client, signer, "message.finalized", sent.provider_id, final)["status"] == "recorded"
    row = _reminder(app)
    assert (row.status, row.delivery_status) == (Status.FAILED, final)
    assert final in row.error


def test_report_for_an_unknown_message_is_accepted_and_ignored(app, client, signer):
    body = _report(client, signer, "message.finalized", "40317c2e-0000-4000-8000-000000000000", "delivered")
    assert body == {"status": "unknown_message"}


def test_list_says_how_the_last_days_reminders_fared(app, client, signer, fake_telnyx):
    sent = _deliver_a_reminder(app, client, signer, fake_telnyx)
    reminder_id = _reminder(app).id
    _report(client, signer, "message.finalized", sent.provider_id, "delivered")
    post_signed(client, signer, message_received("list", ALICE))
    assert fake_telnyx.wait_for(lambda messages: any("Last 24h:" in m.text for m in messages), timeout=10)
    [listing] = [m.text for m in fake_telnyx.delivered(ALICE) if "Last 24h:" in m.text]
    assert f"#{reminder_id} water the plants: delivered" in listing
    assert listing.startswith("You have no pending reminders")


def test_failed_delivery_report_tells_the_owner_once(app_factory, signer, fake_telnyx):
    from tests.conftest import BOB

    app = app_factory(THIRD_PARTY_CONSENT="notice")  # ask mode: tests/test_consent.py
    client = app.test_client()

    post_signed(client, signer, message_received("remind 646-555-0199 in 1 second: dinner", ALICE))
    assert fake_telnyx.wait_for(lambda sent: len([m for m in sent if m.to == BOB]) == 1, timeout=10)
    [sent] = fake_telnyx.delivered(BOB)
    assert wait_until(lambda: _reminder(app).status == Status.SENT)
    for _ in range(2):
        post_signed(client, signer, message_status("message.finalized", sent.provider_id, "delivery_failed", BOB))
    assert fake_telnyx.wait_for(lambda messages: any("could not be delivered" in m.text for m in messages
                                                     if m.to == ALICE), timeout=10)
    notices = [m for m in fake_telnyx.delivered(ALICE) if "could not be delivered" in m.text]
    assert len(notices) == 1 and _reminder(app).status == Status.FAILED
