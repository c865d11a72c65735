"""The Twilio webhooks: signed form posts in, TwiML out, replies and delivery reports through one pipeline.

Signatures are real: computed by the twilio library's own algorithm (``RequestValidator``) over
the public URL, as Twilio computes them. The SDK sends every reply to tests/fake_twilio.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.storage.models import Contact, InboxMessage, Kind, Reminder, Status
from tests.conftest import (ALICE, BOB, BOT_NUMBER, ShiftedClock, handled, json_of, nth_message_to, send_sms, settle,
                            wait_until)
from tests.fake_twilio import PUBLIC_BASE_URL, TwilioSigner

pytestmark = pytest.mark.parametrize("provider", ["twilio"], indirect=True)

CONFIRMATION = re.compile(r"Got it \(#([a-z0-9]{4,8})\)")


def _stored(app) -> tuple[int, int]:
    """Count what the bot stored: inbound messages (the inbox) and outbound rows."""
    with app.extensions["bot"].session_factory() as session:
        inbound = session.scalar(select(func.count()).select_from(InboxMessage)) or 0
        outbound = session.scalar(select(func.count()).select_from(Reminder)) or 0
    return inbound, outbound


def test_an_sms_is_answered_with_empty_twiml_and_the_reply_goes_out_through_twilio(app, client, signer,
                                                                                   fake_twilio, fake_telnyx):
    form = signer.inbound("remind me in 1 second: call mom", ALICE)
    response = signer.post(client, "/webhooks/twilio", form)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert response.headers["Bot-Outcome"] == "accepted"

    confirmation = nth_message_to(fake_twilio, ALICE)
    assert CONFIRMATION.search(confirmation.text), confirmation.text
    assert confirmation.from_number == BOT_NUMBER
    assert confirmation.authorization == fake_twilio.authorization  # HTTP Basic: account SID and auth token
    assert confirmation.status_callback == f"{PUBLIC_BASE_URL}/webhooks/twilio/status"
    assert nth_message_to(fake_twilio, ALICE, 2).text.startswith("Reminder: call mom")
    settle(app)
    assert fake_telnyx.messages == []  # SMS_PROVIDER=twilio: Telnyx, configured too, sends nothing


@pytest.mark.parametrize("tamper", ["no signature", "another URL", "a changed field", "another token"])
def test_a_request_that_is_not_twilios_is_refused_and_nothing_is_stored(app, client, signer, fake_twilio, tamper):
    form = signer.inbound("remind me in 1 second: x", ALICE)
    headers = signer.headers("/webhooks/twilio", form)
    if tamper == "no signature":
        del headers["X-Twilio-Signature"]
    elif tamper == "another URL":  # what a proxy's inside address would give: not the URL Twilio called
        headers = TwilioSigner(public_base_url="http://localhost:5000").headers("/webhooks/twilio", form)
    elif tamper == "a changed field":
        form = {**form, "From": BOB}
    else:
        headers = TwilioSigner(auth_token="someone-elses-token").headers("/webhooks/twilio", form)
    response = client.post("/webhooks/twilio", data=urlencode(form), headers=headers)
    assert response.status_code == 403
    assert json_of(response)["error"]["code"] == "invalid_signature"
    assert _stored(app) == (0, 0)


@pytest.mark.parametrize("missing", ["PUBLIC_BASE_URL", "TWILIO_AUTH_TOKEN"])
def test_without_what_signatures_need_every_request_gets_503(app_factory, signer, missing):
    # Without Twilio credentials the app sends through Telnyx, but Twilio's webhook still fails closed.
    overrides = ({"PUBLIC_BASE_URL": None} if missing == "PUBLIC_BASE_URL" else
                 {"SMS_PROVIDER": None, "TWILIO_ACCOUNT_SID": None, "TWILIO_AUTH_TOKEN": None,
                  "TWILIO_PHONE_NUMBER": None})
    app = app_factory(**overrides)
    client = app.test_client()
    for path in ("/webhooks/twilio", "/webhooks/twilio/status"):
        response = signer.post(client, path, signer.inbound("help", ALICE))
        assert response.status_code == 503
        assert json_of(response)["error"]["code"] == "webhook_not_configured"
        assert "Retry-After" not in response.headers  # no wait cures a missing setting
    assert _stored(app) == (0, 0)


def test_fields_twilio_adds_and_a_query_string_are_signed_over_too(app, client, fake_twilio):
    signer = TwilioSigner()
    form = {**signer.inbound("help", ALICE), "AddOns": '{"status":"successful"}', "NewFieldOf2030": "x"}
    path = "/webhooks/twilio?tenant=a%20b"  # Twilio signs the URL as configured, query included
    response = client.post(path, data=urlencode(form), headers=signer.headers(path, form))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "remind" in nth_message_to(fake_twilio, ALICE).text.lower()
    moved = client.post("/webhooks/twilio?tenant=b", data=urlencode(form), headers=signer.headers(path, form))
    assert moved.status_code == 403


def test_a_repeated_message_sid_is_handled_once(app, client, signer, fake_twilio):
    sid = "SM" + "1" * 32
    assert send_sms(client, signer, "remind me in 1 hour: once", message_id=sid)["status"] == "handled"
    assert send_sms(client, signer, "remind me in 1 hour: once", message_id=sid)["status"] == "duplicate"
    nth_message_to(fake_twilio, ALICE)
    settle(app)
    assert len(fake_twilio.messages) == 1
    with app.extensions["bot"].session_factory() as session:
        assert session.scalar(select(func.count()).where(Reminder.kind == Kind.REMINDER)) == 1


@pytest.mark.parametrize("field, value", [("MessageSid", None), ("From", None), ("MessageSid", "SM\x00x"),
                                          ("From", "+1212\n5550147"), ("MessageSid", "SM" + "9" * 200)],
                         ids=["no sid", "no sender", "nul in sid", "newline in sender", "sid too long"])
def test_unusable_fields_get_a_400_naming_them(app, client, signer, field, value):
    form = signer.inbound("help", ALICE)
    if value is None:
        del form[field]
    else:
        form[field] = value
    response = signer.post(client, "/webhooks/twilio", form)
    assert response.status_code == 400
    assert json_of(response)["error"]["field"] == field
    assert _stored(app) == (0, 0)


def test_a_body_over_the_limit_gets_413(app_factory, signer):
    client = app_factory(MAX_BODY_BYTES=2048).test_client()
    response = signer.post(client, "/webhooks/twilio", signer.inbound("x" * 5000, ALICE))
    assert response.status_code == 413


def test_a_message_with_no_body_gets_the_help_text(app, client, signer, fake_twilio):
    form = {k: v for k, v in signer.inbound("", ALICE).items() if k != "Body"}  # an MMS with a picture only
    form.update(NumMedia="1", MediaUrl0="https://api.twilio.com/media/1", MediaContentType0="image/jpeg")
    assert signer.post(client, "/webhooks/twilio", form).status_code == 200
    assert "remind" in nth_message_to(fake_twilio, ALICE).text.lower()


def test_twilios_opt_out_type_is_mirrored_whatever_the_keyword(app, client, signer, fake_twilio):
    # "ARRET" is an Advanced Opt-Out keyword of the Messaging Service: Twilio opted the sender out.
    form = {**signer.inbound("ARRET", ALICE), "OptOutType": "STOP"}
    assert signer.post(client, "/webhooks/twilio", form).status_code == 200
    assert "unsubscribed" in nth_message_to(fake_twilio, ALICE).text
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Contact, ALICE).opted_out_at is not None
    assert send_sms(client, signer, "help")["status"] == "ignored"
    send_sms(client, signer, "START")  # Twilio's form carries OptOutType=START: read from the text
    assert "Welcome back" in nth_message_to(fake_twilio, ALICE, 2).text


def _sent_reminder(app, client, signer, fake_twilio, to: str = ALICE):
    send_sms(client, signer, f"remind {to} in 1 second: water the plants")
    assert fake_twilio.wait_for(lambda sent: any(m.text.startswith("Reminder") for m in sent if m.to == to))
    [sent] = [m for m in fake_twilio.delivered(to) if m.text.startswith("Reminder")]

    def reminder():
        with app.extensions["bot"].session_factory() as session:
            return session.scalars(select(Reminder).where(Reminder.kind == Kind.REMINDER)).one()

    assert wait_until(lambda: reminder().status == Status.SENT)
    return sent, reminder


def _report(client, signer, sid: str, status: str, to: str = ALICE, error_code: str | None = None) -> dict:
    response = signer.post(client, "/webhooks/twilio/status", signer.status(sid, status, to, error_code))
    assert response.status_code == 200, response.get_data(as_text=True)
    return json_of(response)


def test_status_callbacks_are_stored_and_only_move_forward(app, client, signer, fake_twilio):
    sent, reminder = _sent_reminder(app, client, signer, fake_twilio)
    assert (reminder().provider_message_id, reminder().delivery_status) == (sent.provider_id, "queued")
    for status in ("sent", "delivered", "sent", "queued"):  # callbacks arrive out of order
        assert _report(client, signer, sent.provider_id, status)["status"] == "recorded"
    row = reminder()
    assert (row.status, row.delivery_status) == (Status.DELIVERED, "delivered")
    api = client.get(f"/sms/scheduled/{row.id}", headers={"Authorization": "Bearer test-token-0123456789"})
    assert api.status_code == 200 and "delivered" in api.get_data(as_text=True)


@pytest.mark.parametrize("status, stored", [("undelivered", "delivery_failed"), ("failed", "sending_failed")])
def test_a_failed_delivery_is_stored_with_its_error_code_and_the_owner_told_once(app_factory, signer, fake_twilio,
                                                                                status, stored):
    app = app_factory(THIRD_PARTY_CONSENT="notice")
    client = app.test_client()
    sent, reminder = _sent_reminder(app, client, signer, fake_twilio, to=BOB)
    for _ in range(2):
        _report(client, signer, sent.provider_id, status, to=BOB, error_code="30003")
    row = reminder()
    assert (row.status, row.delivery_status) == (Status.FAILED, stored)
    assert "Twilio 30003" in row.error
    assert fake_twilio.wait_for(lambda sent: any("could not be delivered" in m.text for m in sent if m.to == ALICE))
    settle(app)
    assert len([m for m in fake_twilio.delivered(ALICE) if "could not be delivered" in m.text]) == 1


def test_status_reports_for_unknown_messages_and_untracked_statuses_are_accepted(app, client, signer):
    assert _report(client, signer, "SM" + "0" * 32, "delivered") == {"status": "unknown_message"}
    assert _report(client, signer, "SM" + "0" * 32, "receiving")["status"] == "ignored"
    response = client.post("/webhooks/twilio/status", data=urlencode(signer.status("SMx", "delivered", ALICE)))
    assert response.status_code == 403  # unsigned


def test_the_studio_flows_http_request_schedules_a_message_twilio_delivers(app_factory, signer, fake_twilio):
    # The blog's Studio flow: a "Make HTTP Request" widget POSTs {number, minutes, message} as JSON.
    clock = ShiftedClock()
    app = app_factory(clock=clock)
    client = app.test_client()
    response = client.post("/v1/message/schedule", json={"number": ALICE, "minutes": 16, "message": "Ahoy, world!"},
                           headers={"Authorization": "Bearer test-token-0123456789"})
    assert response.status_code == 201, response.get_data(as_text=True)
    settle(app)
    assert fake_twilio.messages == []  # not before its time
    clock.advance(timedelta(minutes=16))
    delivered = nth_message_to(fake_twilio, ALICE)
    assert delivered.text.endswith("Ahoy, world!")
    assert delivered.status_callback == f"{PUBLIC_BASE_URL}/webhooks/twilio/status"

    def recorded() -> str | None:
        with app.extensions["bot"].session_factory() as session:
            return session.scalars(select(Reminder.provider_message_id).where(Reminder.kind == Kind.REMINDER)).one()

    assert wait_until(lambda: recorded() == delivered.provider_id)  # the fake answers before the bot records


def test_signature_is_checked_against_the_public_url_not_the_one_the_app_sees(app_factory, fake_twilio):
    # Behind ngrok Twilio calls https://<id>.ngrok-free.app/...; the app sees http://localhost:5000/...
    ngrok = "https://5bad813c2718.ngrok-free.app"
    app = app_factory(PUBLIC_BASE_URL=ngrok)
    signer = TwilioSigner(public_base_url=ngrok)
    answer, sid = signer.text_bot(app.test_client(), "help", ALICE)
    assert answer["status"] == "accepted"
    handled(app, sid)
    assert "remind" in nth_message_to(fake_twilio, ALICE).text.lower()



@pytest.mark.parametrize("body, content_type, status", [
    (b"Body=%FF%FE%00remind&From=%2B12125550147&MessageSid=SMbad", "application/x-www-form-urlencoded", 200),
    (b'{"MessageSid": "SM1", "From": "+12125550147", "Body": "help"}', "application/json", 400),
    (b"&".join(b"F%d=x" % n for n in range(3000)) + b"&MessageSid=SMmany&From=%2B12125550147&Body=help",
     "application/x-www-form-urlencoded", 200),
], ids=["invalid utf-8 and a NUL", "json instead of a form", "3000 fields"])
def test_hostile_bodies_get_a_clear_answer_never_a_500(app, client, signer, body, content_type, status):
    from flask import request

    with app.test_request_context("/webhooks/twilio", method="POST", data=body, content_type=content_type):
        fields = request.form.to_dict()  # signed over the fields as the app reads them (a JSON body has none)
    headers = {**signer.headers("/webhooks/twilio", fields), "Content-Type": content_type}
    response = client.post("/webhooks/twilio", data=body, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)


def test_logs_mask_numbers_and_never_show_the_auth_token(app_factory, signer, fake_twilio):
    import io
    import logging

    from tests.fake_twilio import AUTH_TOKEN, Reply

    # What the bot's log handler writes, at the most talkative level. urllib3 would log the look-up's
    # URL, the recipient's number in its query string; bot.logs keeps it at WARNING.
    app = app_factory(LOG_LEVEL="DEBUG", RETRY_BASE_SECONDS=0.05)
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_bot_handler", False)]
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        fake_twilio.push(Reply(drop=True))  # the reply's first send is uncertain: the retry looks it up
        send_sms(app.test_client(), signer, "help")
        nth_message_to(fake_twilio, ALICE)
        assert wait_until(lambda: len(fake_twilio.lookups) == 1)
        settle(app)
    finally:
        handler.setStream(previous)
    logged = written.getvalue()
    assert "+*******0147" in logged  # the number was logged, masked...
    for secret in (ALICE, ALICE[2:], "%2B" + ALICE[1:], AUTH_TOKEN):
        assert secret not in logged  # ...never whole, nor the token


def test_the_webhook_rate_limit_applies_to_twilios_webhook_too(app_factory, signer):
    client = app_factory(RATE_LIMIT_WEBHOOK="3/hour").test_client()
    codes = [signer.post(client, "/webhooks/twilio", signer.inbound("list", ALICE)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
