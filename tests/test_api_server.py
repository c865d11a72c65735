"""The REST API against a real server on 127.0.0.1: delivery through the fake Telnyx, SMS and API together."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import httpx
import pytest
from werkzeug.serving import make_server

from tests.conftest import ALICE, BOB, ShiftedClock, settle
from tests.signing import encode, message_received, message_status

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class LiveServer:
    """A Flask app served by werkzeug on an ephemeral loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def app(app_factory, clock):
    """The app around a bot whose clock a test can move forward, instead of waiting for a reminder's time."""
    return app_factory(clock=clock)


@pytest.fixture
def http(app) -> Iterator[httpx.Client]:
    with LiveServer(app) as live, httpx.Client(base_url=live.url, headers=AUTH, timeout=10) as client:
        yield client


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code, error
    return error


def _post_webhook(http: httpx.Client, signer, event) -> httpx.Response:
    body = encode(event)
    return http.post("/webhooks/telnyx", content=body, headers={**signer.headers(body), "Authorization": ""})


def test_every_endpoint_over_http(http):
    created = http.post("/sms/schedule", json={"to": BOB, "message": "hello",
                                               "send_at": _iso(datetime.now(timezone.utc) + timedelta(hours=1))})
    assert created.status_code == 201
    job = created.json()
    studio = http.post("/v1/message/schedule", json={"number": ALICE, "minutes": 16, "message": "Ahoy"})
    assert studio.status_code == 201 and studio.json()["to"] == ALICE
    phrase = http.post("/sms/schedule", json={"to": BOB, "message": "later", "when": "tomorrow 9am",
                                              "tz": "America/New_York"})
    assert phrase.status_code == 201

    listing = http.get("/sms/scheduled", params={"limit": 2})
    assert listing.status_code == 200 and len(listing.json()) == 2
    rest = http.get("/sms/scheduled", params={"limit": 2, "cursor": listing.headers["X-Next-Cursor"]})
    assert [item["id"] for item in rest.json()] == [job["job_id"]]

    record = http.get(created.headers["Location"])
    assert record.status_code == 200 and record.json()["message"] == "hello"
    cancelled = http.delete(f"/sms/scheduled/{job['job_id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = http.delete(f"/sms/scheduled/{job['job_id']}")
    _error(again, 409, "not_cancellable")
    assert again.json()["status"] == "cancelled"
    assert http.get("/openapi.json", headers={"Authorization": ""}).json()["openapi"] == "3.1.0"


@pytest.mark.parametrize("method,path,kwargs,status,code", [
    ("post", "/sms/schedule", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400,
     "invalid_json"),
    ("post", "/sms/schedule", {"content": b"to=+1", "headers": {"Content-Type": "text/plain"}}, 400,
     "unsupported_media_type"),
    ("post", "/sms/schedule", {"json": {"to": BOB, "message": "x", "send_at": "2020-01-01T00:00:00Z"}}, 400,
     "send_at_in_past"),
    ("post", "/v1/message/schedule", {"json": {"number": ALICE, "minutes": 0, "message": "x"}}, 400,
     "minutes_out_of_range"),
    ("get", "/sms/scheduled", {"params": {"limit": 500}}, 400, "invalid_limit"),
    ("get", "/sms/scheduled/zzzzzz", {}, 404, "not_found"),
    ("delete", "/sms/scheduled/zzzzzz", {}, 404, "not_found"),
    ("get", "/sms/scheduled", {"headers": {"Authorization": "Bearer nope"}}, 401, "unauthorized"),
    ("post", "/sms/schedule", {"headers": {"Authorization": ""}, "json": {}}, 401, "unauthorized"),
    ("get", "/sms/schedule", {}, 405, None),
    ("post", "/sms/schedule", {"content": b"{" * 70_000, "headers": {"Content-Type": "application/json"}}, 413,
     None),
], ids=["bad-json", "wrong-type", "past", "minutes-0", "limit-500", "get-unknown", "cancel-unknown", "wrong-token",
        "no-token", "method", "too-large"])
def test_failures_over_http(http, method, path, kwargs, status, code):
    _error(getattr(http, method)(path, **kwargs), status, code)


def test_api_off_without_token_over_http(app_factory):
    with LiveServer(app_factory(API_TOKEN=None, RUN_DISPATCHER=False)) as live:
        response = httpx.get(f"{live.url}/sms/scheduled", headers=AUTH)
    assert "API_TOKEN" in _error(response, 503, "api_disabled")["message"]


def test_an_api_reminder_is_delivered_through_telnyx(app, clock, http, fake_telnyx, signer):
    response = http.post("/sms/schedule", json={
        "to": BOB, "message": "Your table is ready", "send_at": _iso(clock() + timedelta(hours=1))})
    assert response.status_code == 201
    job_id = response.json()["job_id"]
    clock.advance(timedelta(hours=1))
    settle(app)  # due now: the dispatcher's poll sends it
    [delivered] = fake_telnyx.delivered(BOB)
    # Sent as written; a first-time recipient also learns how to opt out.
    assert delivered.text.endswith("Your table is ready") and "STOP" in delivered.text

    def record() -> dict:
        return http.get(f"/sms/scheduled/{job_id}").json()

    sent = record()
    assert sent["status"] == "sent" and sent["sent_at"].endswith("Z")
    assert sent["provider_message_id"] and sent["delivery_status"] == "queued"
    _error(http.delete(f"/sms/scheduled/{job_id}"), 409, "not_cancellable")

    finalized = message_status("message.finalized", sent["provider_message_id"], "delivered", BOB)
    assert _post_webhook(http, signer, finalized).status_code == 200  # the webhook needs no token
    assert record()["status"] == "delivered" and record()["delivery_status"] == "delivered"


def test_a_reminder_set_by_sms_is_cancelled_over_the_api(app, clock, http, fake_telnyx, signer):
    assert _post_webhook(http, signer, message_received("remind me in 1 hour: take the cake out", ALICE)
                         ).status_code == 200
    assert fake_telnyx.wait_for(lambda sent: any(m.to == ALICE for m in sent), timeout=10)  # the confirmation
    [item] = http.get("/sms/scheduled").json()
    assert item["to"] == ALICE and item["status"] == "scheduled"
    assert http.get(f"/sms/scheduled/{item['id']}").json()["source"] == "sms"
    assert http.delete(f"/sms/scheduled/{item['id']}").status_code == 200
    clock.advance(timedelta(hours=2))  # had the cancel not held, the reminder would be due now...
    settle(app)  # ...and sent by the time the queue settles
    assert len(fake_telnyx.delivered(ALICE)) == 1  # the confirmation only
    assert http.get(f"/sms/scheduled/{item['id']}").json()["status"] == "cancelled"


def test_concurrent_retries_over_http_make_one_job(http):
    body = {"number": BOB, "minutes": 10, "message": "once"}
    barrier = threading.Barrier(6)
    results: list[httpx.Response] = []

    def post() -> None:
        barrier.wait()
        results.append(http.post("/v1/message/schedule", json=body, headers={"Idempotency-Key": "same"}))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.status_code for r in results] == [201] * 6
    assert len({r.json()["job_id"] for r in results}) == 1
    assert len(http.get("/sms/scheduled").json()) == 1
