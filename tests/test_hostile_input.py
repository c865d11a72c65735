"""Hostile input never causes a 5xx, a crash or lost data, and the service keeps serving.

On SQLite and PostgreSQL: property tests (hypothesis) on the webhook, a table of the
inputs that once gave a 500 (lone surrogates, NUL, deep nesting, 5,000-digit numbers,
wrong types) each with its exact answer, bodies over MAX_BODY_BYTES sent chunked to a
real server, and 1,000 hostile requests against a live one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot.storage.models import InboundMessage, Kind, Reminder
from tests.conftest import ALICE, handled, post_signed, send_sms, wait_until
from tests.signing import WebhookSigner, encode, message_received

LIMITS_OFF = {"RATE_LIMIT_WEBHOOK": "1000000/minute", "RATE_LIMIT_API": "1000000/minute"}
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Any code point, lone surrogates and NUL included: JSON can carry them ("\ud800", "\u0000").
any_text = st.text(st.characters(exclude_categories=()), max_size=50)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50) | any_text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
nasty_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | any_text | st.sampled_from([
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
def quiet_app(app_factory, database_url):
    return app_factory(DATABASE_URL=database_url, RUN_DISPATCHER=False, **LIMITS_OFF)


@FUZZ
@given(event=json_values)
def test_arbitrary_signed_json_is_never_a_500(quiet_app, signer, event):
    response = post_signed(quiet_app.test_client(), signer, event)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    assert "error" in response.get_json() or response.status_code == 200


@FUZZ
@given(text=nasty_text, sender=any_text | st.just(ALICE))
def test_arbitrary_sms_text_and_senders_get_an_answer(quiet_app, signer, text, sender):
    event = message_received(text, sender)
    response = post_signed(quiet_app.test_client(), signer, event)
    if sender.strip() and sender.isprintable():
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["status"] == "accepted"
        assert handled(quiet_app, event["data"]["payload"]["id"])["status"] in ("handled", "ignored")
    else:  # no number has a control character or half a surrogate pair in it
        assert response.status_code == 400
        assert response.get_json()["error"]["field"] == "data.payload.from.phone_number"


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
    send_sms(app.test_client(), signer, "remind me in 2 hours: keep me")
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


# --- Issue 13: the inputs that once gave a 500, each with its exact answer, on both engines ---

TOKEN = "test-token-0123456789"
SIGNED, UNSIGNED, BEARER = "signed", "unsigned", "bearer"
DEEP_ARRAYS = {depth: b"[" * depth + b"]" * depth for depth in (8_000, 30_000)}
DEEP_OBJECTS = b'{"a":' * 8_000 + b"1" + b"}" * 8_000
BIG_INTEGER = "9" * 5_000  # Python 3.11 refuses to read more than 4,300 digits


def _received(text: str = '"remind me in 1 hour: x"', message_id: str | None = None, event_id: str | None = None,
              sender: str = f'"{ALICE}"', attempt: str = "1") -> bytes:
    """A message.received event written as JSON text, so a field can hold what json.dumps never writes."""
    message_id = message_id or json.dumps(str(uuid.uuid4()))
    event_id = event_id or json.dumps(str(uuid.uuid4()))
    return (f'{{"data": {{"event_type": "message.received", "id": {event_id}, "payload": {{"id": {message_id}, '
            f'"text": {text}, "from": {{"phone_number": {sender}}}, "to": [{{"phone_number": "+13125550100"}}]}}}}, '
            f'"meta": {{"attempt": {attempt}}}}}').encode()


def _report(provider_id: str = '"40317f4b-0000-4000-8000-000000000000"', status: str = '"delivered"',
            to: str | None = None) -> bytes:
    """A message.finalized delivery report written as JSON text."""
    to = to or f'[{{"phone_number": "{ALICE}", "status": {status}}}]'
    return (f'{{"data": {{"event_type": "message.finalized", "id": {json.dumps(str(uuid.uuid4()))}, '
            f'"payload": {{"id": {provider_id}, "to": {to}}}}}}}').encode()


def _schedule(**fields: str) -> bytes:
    """A POST /sms/schedule body written as JSON text; each field is given as JSON."""
    fields = {"to": f'"{ALICE}"', "message": '"hello"', "when": '"in 1 hour"', **fields}
    return ("{" + ", ".join(f'"{name}": {value}' for name, value in fields.items() if value is not None)
            + "}").encode()


@dataclasses.dataclass(frozen=True)
class Hostile:
    """One hostile request and the exact answer it gets: status, and the error code (or 2xx status word)."""

    id: str
    method: str
    path: str
    body: bytes | None
    auth: str
    status: int
    code: str
    field: str | None = None
    stored_text: str | None = None  # the text the reminder it creates is stored with


WEBHOOK, SCHEDULE = "/webhooks/telnyx", "/sms/schedule"
HOSTILE = [
    # Webhook, signed: a lone surrogate or NUL where an id goes is refused, in the text it is read past.
    Hostile("text-lone-surrogate", "POST", WEBHOOK, _received('"remind me in 1 hour: half \\ud83d emoji"'),
            SIGNED, 200, "accepted", stored_text="half \ufffd emoji"),
    Hostile("text-nul", "POST", WEBHOOK, _received('"remind me in 1 hour: call\\u0000 mom"'), SIGNED, 200,
            "accepted", stored_text="call  mom"),
    Hostile("message-id-lone-surrogate", "POST", WEBHOOK, _received(message_id='"\\ud800"'), SIGNED, 400,
            "invalid_event", "data.payload.id"),
    Hostile("message-id-nul", "POST", WEBHOOK, _received(message_id='"abc\\u0000def"'), SIGNED, 400,
            "invalid_event", "data.payload.id"),
    Hostile("event-id-lone-surrogate", "POST", WEBHOOK, _received(event_id='"\\udfff"'), SIGNED, 400,
            "invalid_event", "data.id"),
    Hostile("event-id-nul", "POST", WEBHOOK, _received(event_id='"\\u0000"'), SIGNED, 400, "invalid_event", "data.id"),
    Hostile("event-id-object", "POST", WEBHOOK, _received(event_id='{"a": 1}'), SIGNED, 400, "invalid_event",
            "data.id"),
    Hostile("sender-lone-surrogate", "POST", WEBHOOK, _received(sender='"+1212555\\ud8000147"'), SIGNED, 400,
            "invalid_event", "data.payload.from.phone_number"),
    Hostile("sender-nul", "POST", WEBHOOK, _received(sender='"+1212555\\u00000147"'), SIGNED, 400,
            "invalid_event", "data.payload.from.phone_number"),
    Hostile("text-number", "POST", WEBHOOK, _received(text="42"), SIGNED, 400, "invalid_event", "data.payload.text"),
    Hostile("text-deep-inside-event", "POST", WEBHOOK, _received(text=DEEP_ARRAYS[8_000].decode()), SIGNED, 400,
            "invalid_json"),
    Hostile("report-id-lone-surrogate", "POST", WEBHOOK, _report(provider_id='"\\ud800"'), SIGNED, 400,
            "invalid_event", "data.payload.id"),
    Hostile("report-id-nul", "POST", WEBHOOK, _report(provider_id='"id\\u0000"'), SIGNED, 400, "invalid_event",
            "data.payload.id"),
    Hostile("report-status-lone-surrogate", "POST", WEBHOOK, _report(status='"\\ud800"'), SIGNED, 400,
            "invalid_event", "data.payload.to"),
    Hostile("report-status-nul", "POST", WEBHOOK, _report(status='"sent\\u0000"'), SIGNED, 400, "invalid_event",
            "data.payload.to"),
    Hostile("report-to-string", "POST", WEBHOOK, _report(to='"everyone"'), SIGNED, 400, "invalid_event",
            "data.payload.to"),
    Hostile("report-unknown-id", "POST", WEBHOOK, _report(), SIGNED, 200, "unknown_message"),
    Hostile("event-type-list", "POST", WEBHOOK, b'{"data": {"event_type": ["message.received"], "payload": {}}}',
            SIGNED, 400, "invalid_event", "data.event_type"),
    Hostile("event-type-unknown", "POST", WEBHOOK, b'{"data": {"event_type": "call.hangup\\u0000"}}', SIGNED, 200,
            "ignored"),
    Hostile("payload-list", "POST", WEBHOOK, b'{"data": {"event_type": "message.received", "payload": [1]}}',
            SIGNED, 400, "invalid_event", "data.payload.from"),
    Hostile("data-null", "POST", WEBHOOK, b'{"data": null}', SIGNED, 400, "invalid_event", "data.event_type"),
    Hostile("nested-8000", "POST", WEBHOOK, DEEP_ARRAYS[8_000], SIGNED, 400, "invalid_json"),
    Hostile("nested-30000", "POST", WEBHOOK, DEEP_ARRAYS[30_000], SIGNED, 400, "invalid_json"),
    Hostile("nested-objects-8000", "POST", WEBHOOK, DEEP_OBJECTS, SIGNED, 400, "invalid_json"),
    Hostile("integer-5000-digits", "POST", WEBHOOK, _received(attempt=BIG_INTEGER), SIGNED, 400, "invalid_json"),
    Hostile("message-id-5000-digits", "POST", WEBHOOK, _received(message_id=BIG_INTEGER), SIGNED, 400,
            "invalid_json"),
    Hostile("raw-nul-byte", "POST", WEBHOOK, b'{"data": "\x00"}', SIGNED, 400, "invalid_json"),
    Hostile("not-utf8", "POST", WEBHOOK, b'{"data": "\xed\xa0\x80"}', SIGNED, 400, "invalid_body"),
    Hostile("over-limit", "POST", WEBHOOK, _received(json.dumps("x" * 70_000)), SIGNED, 413,
            "request_entity_too_large"),
    # Webhook, unsigned: refused before anything is read.
    Hostile("unsigned-nested-30000", "POST", WEBHOOK, DEEP_ARRAYS[30_000], UNSIGNED, 401, "invalid_signature"),
    Hostile("unsigned-lone-surrogate", "POST", WEBHOOK, _received(message_id='"\\ud800"'), UNSIGNED, 401,
            "invalid_signature"),
    Hostile("unsigned-over-limit", "POST", WEBHOOK, b"[" * 70_000, UNSIGNED, 413, "request_entity_too_large"),
    # REST, with the bearer token: refused with the field at fault, or stored with control characters stripped.
    Hostile("api-message-lone-surrogate", "POST", SCHEDULE, _schedule(message='"\\ud800"'), BEARER, 400,
            "invalid_text", "message"),
    Hostile("api-message-nul", "POST", SCHEDULE, _schedule(message='"call\\u0000 mom"'), BEARER, 201, "scheduled",
            stored_text="call  mom"),
    Hostile("api-message-control-characters", "POST", SCHEDULE, _schedule(message='"a\\u0001b\\u0007c\\nd\\u200b"'),
            BEARER, 201, "scheduled", stored_text="a b c d"),
    Hostile("api-message-only-control", "POST", SCHEDULE, _schedule(message='"\\u0000\\u0001\\n"'), BEARER, 400,
            "empty_field", "message"),
    Hostile("api-to-nul", "POST", SCHEDULE, _schedule(to='"+1212555\\u00000147"'), BEARER, 400,
            "invalid_phone_number", "to"),
    Hostile("api-to-lone-surrogate", "POST", SCHEDULE, _schedule(to='"\\ud800"'), BEARER, 400, "invalid_text", "to"),
    Hostile("api-when-lone-surrogate", "POST", SCHEDULE, _schedule(when='"in 1 hour \\ud800"'), BEARER, 400,
            "invalid_text", "when"),
    Hostile("api-tz-nul", "POST", SCHEDULE, _schedule(tz='"Europe/Pa\\u0000ris"'), BEARER, 400, "invalid_timezone",
            "tz"),
    Hostile("api-nested-8000", "POST", SCHEDULE, DEEP_ARRAYS[8_000], BEARER, 400, "invalid_json"),
    Hostile("api-nested-30000", "POST", SCHEDULE, DEEP_ARRAYS[30_000], BEARER, 400, "invalid_json"),
    Hostile("api-minutes-5000-digits", "POST", "/v1/message/schedule",
            f'{{"number": "{ALICE}", "minutes": {BIG_INTEGER}, "message": "x"}}'.encode(), BEARER, 400,
            "invalid_json"),
    Hostile("api-minutes-string", "POST", "/v1/message/schedule",
            f'{{"number": "{ALICE}", "minutes": "5", "message": "x"}}'.encode(), BEARER, 400, "invalid_type",
            "minutes"),
    Hostile("api-over-limit", "POST", SCHEDULE, _schedule(message=json.dumps("x" * 70_000)), BEARER, 413,
            "request_entity_too_large"),
    Hostile("api-limit-5000-digits", "GET", f"/sms/scheduled?limit={BIG_INTEGER}", None, BEARER, 400,
            "invalid_limit", "limit"),
    Hostile("api-cursor-nul", "GET", "/sms/scheduled?cursor=%00", None, BEARER, 400, "invalid_cursor", "cursor"),
    Hostile("api-id-nul", "GET", "/sms/scheduled/k3x9q%00", None, BEARER, 404, "not_found", "id"),
    Hostile("api-id-surrogate-bytes", "GET", "/sms/scheduled/%ED%A0%80", None, BEARER, 404, "not_found", "id"),
    Hostile("api-cancel-nul", "DELETE", "/sms/scheduled/%00", None, BEARER, 404, "not_found", "id"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One app per engine for the whole table (building one per row would cost a database each)."""
    from app import create_app
    from tests.conftest import _ENV_NAMES
    from tests.databases import postgres_database

    signer = WebhookSigner()
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'bot.db'}"
        else:
            url = stack.enter_context(postgres_database())
        environment = stack.enter_context(pytest.MonkeyPatch.context())
        for name in _ENV_NAMES:  # as conftest's clean_environment does for each test
            environment.delenv(name, raising=False)
        app = create_app({"DATABASE_URL": url, "TELNYX_PUBLIC_KEY": signer.public_key, "API_TOKEN": TOKEN,
                          "RUN_DISPATCHER": False, "LOAD_DOTENV": False, **LIMITS_OFF})
        try:
            yield app, signer
        finally:
            app.extensions["bot"].shutdown()
            app.extensions["bot"].engine.dispose()


def _send(app, signer, case: Hostile):
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if case.auth == SIGNED:
        headers = signer.headers(case.body or b"")
    elif case.auth == BEARER:
        headers["Authorization"] = f"Bearer {TOKEN}"
    return app.test_client().open(case.path, method=case.method, data=case.body, headers=headers)


@pytest.mark.parametrize("case", HOSTILE, ids=[case.id for case in HOSTILE])
def test_hostile_input_gets_its_exact_answer(engine_app, case):
    app, signer = engine_app
    before = _count(app, InboundMessage), _count(app, Reminder)
    response = _send(app, signer, case)
    body = response.get_json()
    assert response.status_code == case.status, body
    if response.status_code >= 400:
        assert body["error"]["code"] == case.code, body
        assert body["error"].get("field") == case.field, body
        assert (_count(app, InboundMessage), _count(app, Reminder)) == before  # nothing stored on a refusal
    else:
        assert body["status"] == case.code, body
    assert "Retry-After" not in response.headers
    if case.stored_text is not None:
        app.extensions["bot"].inbox.tick()  # RUN_DISPATCHER is false: handle the stored message here
        with app.extensions["bot"].session_factory() as session:
            texts = set(session.scalars(select(Reminder.text).where(Reminder.kind == Kind.REMINDER)))
        assert case.stored_text in texts


# --- Bodies over MAX_BODY_BYTES sent chunked (no Content-Length) to a real server: 413, not cut ---

LIMIT = 64 * 1024


def _event_of_size(size: int) -> bytes:
    """A message.received event of exactly ``size`` bytes (its text is padded)."""
    event = message_received("", ALICE)
    padding = size - len(encode(event))
    event["data"]["payload"]["text"] = "x" * padding
    body = encode(event)
    assert len(body) == size
    return body


def _schedule_of_size(size: int) -> bytes:
    body = f'{{"to": "{ALICE}", "when": "in 1 hour", "message": ""}}'
    return body.replace('"message": ""', f'"message": "{"x" * (size - len(body))}"').encode()


def _post_chunked(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """POST ``body`` with Transfer-Encoding: chunked, in 8 KiB chunks, and return the status and JSON.

    A server that refuses a body over its limit answers and closes without reading the rest, so
    the send may fail (broken pipe) while its answer waits unread: read it, as a client should.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        try:
            connection.request("POST", path, body=(body[n:n + 8192] for n in range(0, len(body), 8192)),
                               headers={**headers, "Transfer-Encoding": "chunked"}, encode_chunked=True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@contextlib.contextmanager
def _werkzeug(app) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _gunicorn(config: dict[str, Any], tmp_path: Path) -> Iterator[int]:
    from tests.test_shutdown import free_port, healthy

    root = Path(__file__).resolve().parent.parent
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is in requirements.txt"
    port = free_port()
    environment = {**os.environ, **{name: str(value) for name, value in config.items()}, "PYTHONPATH": str(root)}
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        server = subprocess.Popen([gunicorn, "app:create_app()", "-c", str(root / "gunicorn.conf.py"), "--workers",
                                   "1", "--bind", f"127.0.0.1:{port}"], cwd=root, env=environment, stdout=output,
                                  stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: healthy(port) or server.poll() is not None, timeout=60), log.read_text()
        assert server.poll() is None, log.read_text()[-3000:]
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


@pytest.mark.parametrize("server", ["werkzeug", "gunicorn"])
def test_chunked_bodies_over_the_limit_are_413_on_a_real_server(server, base_config, signer, tmp_path):
    config = {**base_config, "RUN_DISPATCHER": "false", "DATABASE_URL": f"sqlite:///{tmp_path / 'chunked.db'}",
              "TELNYX_API_KEY": "", "TELNYX_PHONE_NUMBER": ""}
    if server == "werkzeug":
        from app import create_app

        app = create_app(config)
        serving = _werkzeug(app)
    else:
        serving = _gunicorn({name: value for name, value in config.items() if name != "LOAD_DOTENV"}, tmp_path)
    bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with serving as port:
        answers = {}
        for size in (LIMIT, LIMIT + 1, 100 * 1024, 1024 * 1024):
            event = _event_of_size(size)
            answers[f"webhook-{size}"] = _post_chunked(port, "/webhooks/telnyx", event, signer.headers(event))
            answers[f"api-{size}"] = _post_chunked(port, "/sms/schedule", _schedule_of_size(size), bearer)
    summary = {name: (status, body.get("status") or body["error"]["code"]) for name, (status, body) in answers.items()}
    too_large = (413, "request_entity_too_large")
    assert summary == {
        # Exactly at the limit: read whole (a cut body would fail its signature, or its JSON).
        f"webhook-{LIMIT}": (200, "accepted"), f"api-{LIMIT}": (400, "message_too_long"),
        f"webhook-{LIMIT + 1}": too_large, f"api-{LIMIT + 1}": too_large,
        "webhook-102400": too_large, "api-102400": too_large,
        "webhook-1048576": too_large, "api-1048576": too_large,
    }
