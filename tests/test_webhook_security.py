"""The webhook accepts only properly signed, fresh Telnyx events, and never answers 500."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bot.storage.models import InboundMessage, Reminder
from tests.conftest import ALICE, json_of, post_signed, settle, wait_until
from tests.signing import WebhookSigner, encode, message_received


def _stored(app) -> tuple[int, int]:
    with app.extensions["bot"].session_factory() as session:
        return (session.scalar(select(func.count()).select_from(Reminder)),
                session.scalar(select(func.count()).select_from(InboundMessage)))


def test_signed_event_is_accepted(app, client, signer):
    response = post_signed(client, signer, message_received("list", ALICE))
    assert response.status_code == 200
    assert json_of(response)["status"] == "accepted"  # stored; handled off the request
    assert wait_until(lambda: _stored(app) == (1, 1))  # the reply is queued, the message remembered


@pytest.mark.parametrize("headers", [
    {},
    {"telnyx-timestamp": str(int(time.time()))},
    {"telnyx-signature-ed25519": "AAAA"},
    {"telnyx-timestamp": "yesterday", "telnyx-signature-ed25519": "AAAA"},
    {"telnyx-timestamp": str(int(time.time())), "telnyx-signature-ed25519": "not base64!!"},
    {"telnyx-timestamp": str(int(time.time())), "telnyx-signature-ed25519": "AAAA"},
    {"telnyx-timestamp": f"--{int(time.time())}", "telnyx-signature-ed25519": "AAAA"},
    {"telnyx-timestamp": "1" * 5000, "telnyx-signature-ed25519": "AAAA"},
    {"telnyx-timestamp": str(int(time.time())), "telnyx-signature-ed25519": "\u00e9" * 88},
], ids=["no-headers", "no-signature", "no-timestamp", "bad-timestamp", "bad-base64", "short-signature",
        "double-sign-timestamp", "timestamp-over-4300-digits", "non-ascii-signature"])
def test_unsigned_or_malformed_is_refused(app, client, headers):
    response = client.post("/webhooks/telnyx", data=encode(message_received("list", ALICE)),
                           headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    assert json_of(response)["error"]["code"] == "invalid_signature"
    assert _stored(app) == (0, 0)


def test_signature_from_another_key_is_refused(app, client):
    intruder = WebhookSigner()
    response = post_signed(client, intruder, message_received("remind me in 1 hour: x", ALICE))
    assert response.status_code == 401
    assert _stored(app) == (0, 0)


def test_tampered_body_is_refused(app, client, signer):
    body = encode(message_received("list", ALICE))
    headers = signer.headers(body)
    tampered = body.replace(b"list", b"help")
    response = client.post("/webhooks/telnyx", data=tampered, headers=headers)
    assert response.status_code == 401
    assert _stored(app) == (0, 0)


@pytest.mark.parametrize("age", [301, -301, 3600], ids=["stale", "future", "an-hour-old"])
def test_timestamp_outside_window_is_refused(app, client, signer, age):
    response = post_signed(client, signer, message_received("list", ALICE), timestamp=int(time.time()) - age)
    assert response.status_code == 401
    assert _stored(app) == (0, 0)


def test_replay_within_window_is_idempotent(app, client, signer, fake_telnyx):
    body = encode(message_received("remind me in 1 hour: stretch", ALICE))
    headers = signer.headers(body)
    first = client.post("/webhooks/telnyx", data=body, headers=headers)
    replay = client.post("/webhooks/telnyx", data=body, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert json_of(first)["status"] == "accepted"
    assert json_of(replay)["status"] == "duplicate"
    settle(app)
    assert _stored(app) == (2, 1)  # one reminder, one reply


def test_no_public_key_refuses_everything(app_factory, signer, caplog):
    app = app_factory(TELNYX_PUBLIC_KEY=None)
    response = post_signed(app.test_client(), signer, message_received("list", ALICE))
    assert response.status_code == 503
    assert "TELNYX_PUBLIC_KEY" in json_of(response)["error"]["message"]
    assert "TELNYX_PUBLIC_KEY is not set" in caplog.text
    assert _stored(app) == (0, 0)


@pytest.mark.parametrize("body", [
    b"",
    b"not json",
    b"[]",
    b'"a string"',
    b"{}",
    b'{"data": 3}',
    b'{"data": {}}',
    b'{"data": {"event_type": "message.received"}}',
    b'{"data": {"event_type": "message.received", "payload": {"text": "hi"}}}',
    b'{"data": {"event_type": "message.received", "payload": {"id": "m1", "from": {"phone_number": 5}}}}',
    b'{"data": {"event_type": "message.received", "payload": {"id": "m1", "text": 7, "from": {"phone_number": "+12125550147"}}}}',
    b'{"data": {"event_type": "message.received", "payload": {"id": "", "text": "x", "from": {"phone_number": "+12125550147"}}}}',
    b'\xff\xfe\x00garbage',
], ids=["empty", "not-json", "array", "string", "no-data", "data-number", "no-event-type", "no-payload",
        "no-sender", "sender-number", "text-number", "empty-id", "not-utf8"])
def test_bad_bodies_get_4xx_json(app, client, signer, body):
    response = post_signed(client, signer, body)
    assert 400 <= response.status_code < 500
    assert "error" in json_of(response)
    assert _stored(app) == (0, 0)


def test_unknown_event_type_is_acknowledged_and_ignored(app, client, signer):
    event = message_received("list", ALICE)
    event["data"]["event_type"] = "call.initiated"
    response = post_signed(client, signer, event)
    assert response.status_code == 200
    assert json_of(response)["status"] == "ignored"
    assert _stored(app) == (0, 0)


def test_body_over_limit_is_413(app, client, signer):
    body = encode(message_received("x" * 70_000, ALICE))
    response = post_signed(client, signer, body)
    assert response.status_code == 413
    assert "error" in json_of(response)
    assert _stored(app) == (0, 0)
