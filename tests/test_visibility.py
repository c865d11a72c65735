"""Who sees what: a number lists and cancels reminders it set or that are addressed to it."""

from __future__ import annotations

import re


from bot.storage.models import Reminder, Status
from tests.conftest import ALICE, BOB, nth_message_to, send_sms

CAROL = "+13105550123"
AUTH = {"Authorization": "Bearer test-token-0123456789"}


def _id_in(text: str) -> str:
    return re.search(r"#([a-z0-9]{4,8})", text).group(1)


def test_api_reminder_shows_in_the_recipients_sms_list_and_can_be_cancelled(app, client, signer, fake_telnyx):
    created = client.post("/sms/schedule", json={"to": ALICE, "message": "pay rent", "when": "in 3 hours"},
                          headers=AUTH)
    assert created.status_code == 201
    job_id = created.get_json()["job_id"]
    send_sms(client, signer, "list")
    listing = nth_message_to(fake_telnyx, ALICE).text
    assert f"#{job_id}" in listing and "(scheduled for you)" in listing and "pay rent" in listing
    send_sms(client, signer, f"cancel {job_id}")
    assert f"Cancelled #{job_id}" in nth_message_to(fake_telnyx, ALICE, 2).text
    assert client.get(f"/sms/scheduled/{job_id}", headers=AUTH).get_json()["status"] == "cancelled"


def test_recipient_sees_who_set_a_reminder_and_strangers_see_nothing(app_factory, signer, fake_telnyx):
    app = app_factory(THIRD_PARTY_CONSENT="notice")  # ask mode: tests/test_consent.py
    client = app.test_client()
    send_sms(client, signer, "remind 646-555-0199 in 2 hours: bring cake")
    reminder_id = _id_in(nth_message_to(fake_telnyx, ALICE).text)
    send_sms(client, signer, "list", sender=BOB)
    assert f"#{reminder_id}" in nth_message_to(fake_telnyx, BOB).text
    assert "(from +1 212-555-0147)" in nth_message_to(fake_telnyx, BOB).text
    send_sms(client, signer, "list")
    assert "(to +1 646-555-0199)" in nth_message_to(fake_telnyx, ALICE, 2).text

    send_sms(client, signer, "list", sender=CAROL)
    assert f"#{reminder_id}" not in nth_message_to(fake_telnyx, CAROL).text
    send_sms(client, signer, f"cancel {reminder_id}", sender=CAROL)
    assert "couldn't find" in nth_message_to(fake_telnyx, CAROL, 2).text
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Reminder, reminder_id).status == Status.SCHEDULED

    send_sms(client, signer, f"cancel #{reminder_id}", sender=BOB)
    assert "Cancelled" in nth_message_to(fake_telnyx, BOB, 2).text
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Reminder, reminder_id).status == Status.CANCELLED
