"""Hostile input never causes a 500, a crash or lost data, and the service keeps serving."""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot.storage.models import InboundMessage, Kind, Reminder
from tests.conftest import ALICE, post_signed
from tests.signing import encode, message_received

LIMITS_OFF = {"RATE_LIMIT_WEBHOOK": "1000000/minute", "RATE_LIMIT_API": "1000000/minute"}
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
nasty_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from([
    "remind me in 1 hour: '; DROP TABLE reminders; --",
    "remind me in 1 hour: \u202eevil\u202c",
    "remind me in 1 hour: \u200b\u200b\u200b",
    "remind me in 1 hour: 👩‍👩‍👧‍👦🔥" * 20,
    "\x00\x00\x00",
    "remind +1 (999) 999-9999999999999 in 1 hour: x",
    "cancel ' OR 1=1 --",
    "remind me in 99999999999999999999 minutes: x",
    "remind me at 25:99: x",
])


def _count(app, model) -> int:
    with app.extensions["bot"].session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def quiet_app(app_factory):
    return app_factory(**LIMITS_OFF)


@FUZZ
@given(event=json_values)
def test_arbitrary_signed_json_is_never_a_500(quiet_app, signer, event):
    response = post_signed(quiet_app.test_client(), signer, event)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    assert "error" in response.get_json() or response.status_code == 200


@FUZZ
@given(text=nasty_text, sender=st.text(max_size=30) | st.just(ALICE))
def test_arbitrary_sms_text_and_senders_get_an_answer(quiet_app, signer, text, sender):
    event = message_received(text, sender)
    response = post_signed(quiet_app.test_client(), signer, event)
    if sender.strip():
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["status"] in ("handled", "ignored")
    else:
        assert response.status_code == 400


@FUZZ
@given(body=st.binary(max_size=2000), headers=st.dictionaries(
    st.sampled_from(["telnyx-signature-ed25519", "telnyx-timestamp", "Content-Type", "X-Forwarded-For"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)))
def test_arbitrary_unsigned_requests_are_refused(quiet_app, body, headers):
    response = quiet_app.test_client().post("/webhooks/telnyx", data=body, headers=headers)
    assert response.status_code in (400, 401)
    assert _count(quiet_app, InboundMessage) == 0


def _hostile_requests(signer, count: int):
    """Yield (method, path, body, headers) for a mix of hostile requests."""
    rng = random.Random(1234)
    kinds = ["garbage", "unsigned", "wrong-signature", "huge", "sql", "unicode", "api-bad-token", "api-junk",
             "bad-method", "header-abuse"]
    for n in range(count):
        kind = kinds[n % len(kinds)]
        if kind == "garbage":
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
            yield "POST", "/webhooks/telnyx", body, signer.headers(body)
        elif kind == "unsigned":
            yield "POST", "/webhooks/telnyx", encode(message_received("remind me in 1 hour: x", ALICE)), {}
        elif kind == "wrong-signature":
            body = encode(message_received("remind me in 1 hour: x", ALICE))
            headers = signer.headers(body)
            yield "POST", "/webhooks/telnyx", body + b" ", headers
        elif kind == "huge":
            body = encode(message_received("x" * 100_000, ALICE))
            yield "POST", "/webhooks/telnyx", body, signer.headers(body)
        elif kind == "sql":
            body = encode(message_received("cancel x' OR '1'='1", ALICE))
            yield "POST", "/webhooks/telnyx", body, signer.headers(body)
        elif kind == "unicode":
            body = encode(message_received("remind me in 1 hour: \u202e\u200b\x00🔥" * 10, "+1\u202e212"))
            yield "POST", "/webhooks/telnyx", body, signer.headers(body)
        elif kind == "api-bad-token":
            yield "POST", "/sms/schedule", b'{"to": "+12125550147"}', {"Authorization": "Bearer nope",
                                                                       "Content-Type": "application/json"}
        elif kind == "api-junk":
            yield "POST", "/sms/schedule", b"\xff" * 50, {"Authorization": "Bearer test-token-0123456789",
                                                          "Content-Type": "application/json"}
        elif kind == "bad-method":
            yield "PUT", "/webhooks/telnyx", b"{}", {}
        else:
            yield "POST", "/webhooks/telnyx", b"{}", {"telnyx-timestamp": "9" * 4000,
                                                       "telnyx-signature-ed25519": "=" * 4000}


def test_a_thousand_hostile_requests_leave_the_service_healthy(app_factory, signer, fake_telnyx):
    app = app_factory(**LIMITS_OFF)
    post_signed(app.test_client(), signer, message_received("remind me in 2 hours: keep me", ALICE))
    with app.extensions["bot"].session_factory() as session:
        before = [(r.id, r.text, r.status) for r in session.scalars(
            select(Reminder).where(Reminder.kind == Kind.REMINDER))]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    statuses: dict[int, int] = {}
    try:
        for method, path, body, headers in _hostile_requests(signer, 1000):
            request = urllib.request.Request(base + path, data=body, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
                json.loads(error.read() or b"{}")  # every error body is JSON
            statuses[status] = statuses.get(status, 0) + 1
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            assert response.status == 200
    finally:
        server.shutdown()
    assert not any(status >= 500 for status in statuses), statuses
    assert statuses.get(413, 0) == 100 and statuses.get(401, 0) >= 200
    with app.extensions["bot"].session_factory() as session:
        after = [(r.id, r.text, r.status) for r in session.scalars(
            select(Reminder).where(Reminder.kind == Kind.REMINDER))]
    assert after == before  # nothing hostile created, changed or lost a reminder
