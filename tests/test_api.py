"""The REST API through Flask's test client: both contracts, auth, validation, idempotency, paging."""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.ids import is_valid_id
from bot.storage.models import Kind, Reminder, Status
from tests.conftest import ALICE, BOB, ShiftedClock, json_of, send_sms

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(app_factory):
    """No dispatcher: these tests look at the API and the rows, not at delivery (see test_api_server)."""
    return app_factory(RUN_DISPATCHER=False)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _schedule(client, body, headers=None, path="/sms/schedule"):
    return client.post(path, json=body, headers={**AUTH, **(headers or {})})


def _job(client, **overrides):
    body = {"to": BOB, "message": "Your scheduled message", "send_at": _iso(_now() + timedelta(hours=1)),
            **overrides}
    response = _schedule(client, body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return json_of(response)


def _rows(app):
    with app.extensions["bot"].session_factory() as session:
        return list(session.scalars(select(Reminder).order_by(Reminder.created_at)))


def _set_status(app, reminder_id, status):
    with app.extensions["bot"].session_factory() as session, session.begin():
        session.get(Reminder, reminder_id).status = status


def _assert_error(response, status, code=None, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    error = json_of(response)["error"]
    assert set(error) <= {"code", "message", "field"} and error["message"]
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    return error


# --- Authentication -------------------------------------------------------------------------

ENDPOINTS = [("post", "/sms/schedule"), ("post", "/v1/message/schedule"), ("get", "/sms/scheduled"),
             ("get", "/sms/scheduled/abc123"), ("delete", "/sms/scheduled/abc123")]
ENDPOINT_IDS = ["schedule", "studio", "list", "get", "cancel"]


@pytest.mark.parametrize("method,path", ENDPOINTS, ids=ENDPOINT_IDS)
def test_without_api_token_configured_the_api_is_off(app_factory, method, path):
    client = app_factory(API_TOKEN=None).test_client()
    response = getattr(client, method)(path, json={}, headers=AUTH)
    error = _assert_error(response, 503, "api_disabled")
    assert "API_TOKEN" in error["message"]


@pytest.mark.parametrize("method,path", ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", "Bearer",
                                           f"Bearer {TOKEN}x", "Bearer t\u00e9st"],
                         ids=["missing", "wrong", "basic-scheme", "empty", "longer", "non-ascii"])
def test_a_missing_or_wrong_token_is_401(client, method, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = getattr(client, method)(path, json={}, headers=headers)
    _assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_scheme_is_case_insensitive(client):
    assert client.get("/sms/scheduled", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


def test_openapi_document_is_public_and_holds_no_secret(client, base_config):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = json_of(response)
    assert document["openapi"].startswith("3.1")
    assert {"/sms/schedule", "/v1/message/schedule", "/sms/scheduled", "/sms/scheduled/{id}"} <= set(document["paths"])
    text = response.get_data(as_text=True)
    for secret in (TOKEN, base_config["TELNYX_API_KEY"], base_config["TELNYX_PUBLIC_KEY"]):
        assert secret not in text


# --- POST /sms/schedule ------------------------------------------------------------------------

def test_schedule_with_z(app, client):
    send_at = (_now() + timedelta(hours=2)).replace(microsecond=0)
    response = _schedule(client, {"to": BOB, "message": "Your scheduled message", "send_at": _iso(send_at)})
    assert response.status_code == 201
    body = json_of(response)
    assert set(body) == {"job_id", "status", "scheduled_for", "to"}
    assert is_valid_id(body["job_id"]) and len(body["job_id"]) == 6  # the SMS commands' ids
    assert body["status"] == "scheduled" and body["to"] == BOB
    assert body["scheduled_for"] == _iso(send_at) and body["scheduled_for"].endswith("Z")
    assert response.headers["Location"] == f"/sms/scheduled/{body['job_id']}"
    [row] = _rows(app)
    assert (row.kind, row.source, row.owner, row.recipient, row.text) == (
        Kind.REMINDER, "api", None, BOB, "Your scheduled message")


def test_the_hot_paths_json_is_what_jsonify_writes(app):
    from flask import jsonify

    from webhooks.errors import json_response

    body = {"job_id": "k3x9ab", "status": "scheduled", "to": "+12125550147", "text": "café ☕ \u2028 \"quoted\""}
    with app.app_context():
        assert json_response(body, 201).get_data() == jsonify(body).get_data()
        assert json_response(body, 201).status_code == 201 and json_response(body).mimetype == "application/json"


def test_the_created_job_is_located_under_the_apps_mount_point(client):
    send_at = _iso(_now() + timedelta(hours=2))
    response = client.post("/sms/schedule", json={"to": BOB, "message": "hi", "send_at": send_at}, headers=AUTH,
                           environ_overrides={"SCRIPT_NAME": "/reminders"})  # served under a path prefix
    assert response.status_code == 201 and response.mimetype == "application/json"
    job_id = json_of(response)["job_id"]
    assert response.headers["Location"] == f"/reminders/sms/scheduled/{job_id}"
    assert client.get(response.headers["Location"].removeprefix("/reminders"), headers=AUTH).status_code == 200


@pytest.mark.parametrize("send_at,expected", [
    ("2026-06-18T16:30:00+02:00", "2026-06-18T14:30:00Z"),
    ("2026-06-18T14:30:00", "2026-06-18T14:30:00Z"),
    ("2026-06-18T14:30:00.250Z", "2026-06-18T14:30:00.250000Z"),
    ("2026-06-18 09:30:00-05:00", "2026-06-18T14:30:00Z"),
], ids=["offset", "naive-is-utc", "fraction", "space-separator"])
def test_send_at_forms(app_factory, send_at, expected):
    # "Now" is before the example's date, so these fixed timestamps are in the future.
    app = app_factory(RUN_DISPATCHER=False, clock=lambda: datetime(2026, 6, 1, tzinfo=timezone.utc))
    response = _schedule(app.test_client(), {"to": BOB, "message": "x", "send_at": send_at})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert json_of(response)["scheduled_for"] == expected


def test_when_is_read_like_the_sms_command(client):
    before = _now()
    body = _job(client, send_at=None, when="in 2 hours")
    assert abs(_parse(body["scheduled_for"]) - (before + timedelta(hours=2))) < timedelta(seconds=5)


def test_when_tomorrow_9am_in_the_given_zone(client):
    body = _job(client, send_at=None, when="tomorrow 9am", tz="America/New_York")
    local = _parse(body["scheduled_for"]).astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (9, 0)
    assert local.date() > _now().astimezone(local.tzinfo).date()


def test_when_defaults_to_bot_timezone(app_factory):
    client = app_factory(BOT_TIMEZONE="Europe/Paris", RUN_DISPATCHER=False).test_client()
    body = _job(client, send_at=None, when="tomorrow 9am")
    local = _parse(body["scheduled_for"]).astimezone(ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute) == (9, 0)


def test_message_of_exactly_ten_segments_with_its_label_is_accepted(client):
    # 1,530 GSM-7 characters, the first message's "(Automated message. Reply STOP to opt out.) " included.
    _job(client, message="x" * (1530 - len("(Automated message. Reply STOP to opt out.) ")))


def test_send_at_just_under_365_days_is_accepted(client):
    _job(client, send_at=_iso(_now() + timedelta(days=365) - timedelta(minutes=1)))


def _future() -> str:
    return _iso(_now() + timedelta(hours=1))


SCHEDULE_ERRORS = [
    ({"to": BOB, "message": "x"}, "missing_field", "send_at"),
    ({"message": "x", "send_at": "FUTURE"}, "missing_field", "to"),
    ({"to": "", "message": "x", "send_at": "FUTURE"}, "empty_field", "to"),
    ({"to": 12125550147, "message": "x", "send_at": "FUTURE"}, "invalid_type", "to"),
    ({"to": "not a phone", "message": "x", "send_at": "FUTURE"}, "invalid_phone_number", "to"),
    ({"to": "+1 23", "message": "x", "send_at": "FUTURE"}, "invalid_phone_number", "to"),
    ({"to": "2125550147", "message": "x", "send_at": "FUTURE"}, "invalid_phone_number", "to"),
    ({"to": "+1 646 555 0199", "message": "x", "send_at": "FUTURE"}, "invalid_phone_number", "to"),
    ({"to": "+1999", "message": "x", "send_at": "FUTURE"}, "invalid_phone_number", "to"),
    ({"to": "+16465550199\n", "message": "x", "send_at": "FUTURE"}, "invalid_phone_number", "to"),
    ({"to": BOB, "send_at": "FUTURE"}, "missing_field", "message"),
    ({"to": BOB, "message": "", "send_at": "FUTURE"}, "empty_field", "message"),
    ({"to": BOB, "message": "   ", "send_at": "FUTURE"}, "empty_field", "message"),
    ({"to": BOB, "message": ["x"], "send_at": "FUTURE"}, "invalid_type", "message"),
    ({"to": BOB, "message": "x" * 1601, "send_at": "FUTURE"}, "message_too_long", "message"),
    ({"to": BOB, "message": "\ud800", "send_at": "FUTURE"}, "invalid_text", "message"),
    ({"to": BOB, "message": "x", "send_at": ""}, "empty_field", "send_at"),
    ({"to": BOB, "message": "x", "send_at": 1781793000}, "invalid_type", "send_at"),
    ({"to": BOB, "message": "x", "send_at": "next tuesday"}, "invalid_send_at", "send_at"),
    ({"to": BOB, "message": "x", "send_at": "2026-06-18"}, "invalid_send_at", "send_at"),
    ({"to": BOB, "message": "x", "send_at": "2026-13-40T25:00:00Z"}, "invalid_send_at", "send_at"),
    ({"to": BOB, "message": "x", "send_at": "9999-12-31T23:59:59-12:00"}, "invalid_send_at", "send_at"),
    ({"to": BOB, "message": "x", "send_at": "2020-01-01T00:00:00Z"}, "send_at_in_past", "send_at"),
    ({"to": BOB, "message": "x", "send_at": "FAR"}, "send_at_too_far", "send_at"),
    ({"to": BOB, "message": "x", "send_at": "FUTURE", "when": "tomorrow 9am"}, "conflicting_fields", "when"),
    ({"to": BOB, "message": "x", "send_at": "FUTURE", "tz": "Europe/Paris"}, "conflicting_fields", "tz"),
    ({"to": BOB, "message": "x", "when": "blorp o'clock"}, "invalid_when", "when"),
    ({"to": BOB, "message": "x", "when": "every day 9am"}, "invalid_when", "when"),
    ({"to": BOB, "message": "x", "when": "in " + "9" * 300 + " minutes"}, "invalid_when", "when"),
    ({"to": BOB, "message": "x", "when": 5}, "invalid_type", "when"),
    ({"to": BOB, "message": "x", "when": "tomorrow 9am", "tz": "Mars/Olympus"}, "invalid_timezone", "tz"),
    ({"to": BOB, "message": "x", "when": "tomorrow 9am", "tz": "../../etc/passwd"}, "invalid_timezone", "tz"),
]
SCHEDULE_ERROR_IDS = [
    "no-send_at", "no-to", "empty-to", "to-not-string", "to-letters", "to-too-short", "to-not-e164", "to-spaces",
    "to-impossible", "to-newline", "no-message",
    "empty-message", "blank-message", "message-not-string", "message-1601", "message-surrogate",
    "empty-send_at", "send_at-number", "send_at-words", "send_at-date-only", "send_at-impossible",
    "send_at-overflow", "send_at-past", "send_at-366-days", "send_at-and-when", "tz-with-send_at",
    "when-unreadable", "when-recurring", "when-too-long", "when-not-string", "tz-unknown", "tz-path",
]


@pytest.mark.parametrize("body,code,field", SCHEDULE_ERRORS, ids=SCHEDULE_ERROR_IDS)
def test_schedule_validation(app, client, body, code, field):
    values = {"FUTURE": _future(), "FAR": _iso(_now() + timedelta(days=366))}
    body = {name: values.get(value, value) if isinstance(value, str) else value for name, value in body.items()}
    response = client.post("/sms/schedule", data=json.dumps(body), headers=AUTH, content_type="application/json")
    _assert_error(response, 400, code, field)
    assert _rows(app) == []


@pytest.mark.parametrize("data,content_type,code", [
    (b'{"to": ', "application/json", "invalid_json"),
    (b"\xff\xfe", "application/json", "invalid_json"),
    (b"[1, 2]", "application/json", "invalid_body"),
    (b"null", "application/json", "invalid_body"),
    (b"[" * 100_000, "application/json", None),  # too deep to parse, or too large: never a 500
    (b'{"to": "+16465550199"}', "text/plain", "unsupported_media_type"),
    (b"to=%2B16465550199&message=x", "application/x-www-form-urlencoded", "unsupported_media_type"),
    (b"", None, "unsupported_media_type"),
], ids=["truncated", "not-utf8", "array", "null", "deep", "text-plain", "form", "no-body"])
@pytest.mark.parametrize("path", ["/sms/schedule", "/v1/message/schedule"], ids=["schedule", "studio"])
def test_bad_bodies(client, path, data, content_type, code):
    response = client.post(path, data=data, headers=AUTH, content_type=content_type)
    assert response.status_code in (400, 413)
    _assert_error(response, response.status_code, code if response.status_code == 400 else None)


def test_body_over_the_limit_is_413_json(app_factory):
    client = app_factory(MAX_BODY_BYTES=1024, RUN_DISPATCHER=False).test_client()
    response = _schedule(client, {"to": BOB, "message": "x" * 1500, "send_at": _future()})
    _assert_error(response, 413)


# --- POST /v1/message/schedule -----------------------------------------------------------------

def test_studio_contract(app, client):
    before = _now()
    response = _schedule(client, {"number": ALICE, "minutes": 16, "message": "Ahoy, world!"},
                         path="/v1/message/schedule")
    assert response.status_code == 201
    body = json_of(response)
    assert set(body) == {"job_id", "status", "scheduled_for", "to"}
    assert body["status"] == "scheduled" and body["to"] == ALICE
    assert abs(_parse(body["scheduled_for"]) - (before + timedelta(minutes=16))) < timedelta(seconds=5)
    [row] = _rows(app)
    assert (row.source, row.owner, row.text) == ("api", None, "Ahoy, world!")


@pytest.mark.parametrize("minutes", [1, 14, 10081, 525600], ids=["1", "under-15", "over-7-days", "365-days"])
def test_studio_has_no_15_minute_minimum_or_7_day_maximum(client, minutes):
    response = _schedule(client, {"number": ALICE, "minutes": minutes, "message": "x"}, path="/v1/message/schedule")
    assert response.status_code == 201, response.get_data(as_text=True)


STUDIO_ERRORS = [
    ({"number": ALICE, "minutes": 0, "message": "x"}, "minutes_out_of_range", "minutes"),
    ({"number": ALICE, "minutes": -5, "message": "x"}, "minutes_out_of_range", "minutes"),
    ({"number": ALICE, "minutes": 525601, "message": "x"}, "minutes_out_of_range", "minutes"),
    ({"number": ALICE, "minutes": 10**30, "message": "x"}, "minutes_out_of_range", "minutes"),
    ({"number": ALICE, "minutes": "16", "message": "x"}, "invalid_type", "minutes"),
    ({"number": ALICE, "minutes": 16.5, "message": "x"}, "invalid_type", "minutes"),
    ({"number": ALICE, "minutes": True, "message": "x"}, "invalid_type", "minutes"),
    ({"number": ALICE, "message": "x"}, "missing_field", "minutes"),
    ({"minutes": 16, "message": "x"}, "missing_field", "number"),
    ({"number": "{{contact.channel.address}}", "minutes": 16, "message": "x"}, "invalid_phone_number", "number"),
    ({"number": ALICE, "minutes": 16}, "missing_field", "message"),
    ({"number": ALICE, "minutes": 16, "message": "x" * 1601}, "message_too_long", "message"),
]


@pytest.mark.parametrize("body,code,field", STUDIO_ERRORS, ids=[
    "zero", "negative", "over-365-days", "huge", "string", "fraction", "bool", "no-minutes", "no-number",
    "unrendered-template", "no-message", "message-1601"])
def test_studio_validation(app, client, body, code, field):
    error = _assert_error(_schedule(client, body, path="/v1/message/schedule"), 400, code, field)
    if code == "minutes_out_of_range":
        assert "365 days" in error["message"] and "15-minute" in error["message"]
    assert _rows(app) == []


# --- Idempotency ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path,body", [
    ("/sms/schedule", {"to": BOB, "message": "once", "send_at": "2099-01-01T00:00:00Z"}),
    ("/sms/schedule", {"to": BOB, "message": "once", "when": "in 2 hours"}),
    ("/v1/message/schedule", {"number": BOB, "minutes": 16, "message": "once"}),
], ids=["send_at", "when", "studio"])
def test_a_retry_with_the_same_key_returns_the_same_job(app, client, path, body):
    if "send_at" in body:
        body = {**body, "send_at": _iso(_now() + timedelta(days=3))}
    first = _schedule(client, body, {"Idempotency-Key": "order-42"}, path)
    again = _schedule(client, body, {"Idempotency-Key": "order-42"}, path)
    assert first.status_code == again.status_code == 201
    assert json_of(first) == json_of(again)
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert len(_rows(app)) == 1


def test_the_same_key_with_another_body_is_422(app, client):
    key = {"Idempotency-Key": "k1"}
    _schedule(client, {"number": BOB, "minutes": 16, "message": "one"}, key, "/v1/message/schedule")
    for changed in ({"number": BOB, "minutes": 17, "message": "one"}, {"number": BOB, "minutes": 16, "message": "two"},
                    {"number": ALICE, "minutes": 16, "message": "one"}):
        response = _schedule(client, changed, {"Idempotency-Key": "k1"}, "/v1/message/schedule")
        _assert_error(response, 422, "idempotency_key_reused", "Idempotency-Key")
    assert len(_rows(app)) == 1


def test_keys_are_scoped_per_endpoint(app, client):
    key = {"Idempotency-Key": "shared"}
    a = _schedule(client, {"to": BOB, "message": "x", "send_at": _future()}, key)
    b = _schedule(client, {"number": BOB, "minutes": 5, "message": "x"}, key, "/v1/message/schedule")
    assert a.status_code == b.status_code == 201
    assert json_of(a)["job_id"] != json_of(b)["job_id"]
    assert len(_rows(app)) == 2


def test_a_retry_after_the_time_passed_still_returns_the_job(app_factory):
    clock = ShiftedClock()
    app = app_factory(RUN_DISPATCHER=False, clock=clock)
    client = app.test_client()
    body = {"to": BOB, "message": "x", "send_at": _future()}
    first = json_of(_schedule(client, body, {"Idempotency-Key": "late"}))
    _set_status(app, first["job_id"], Status.SENT)
    clock.advance(timedelta(hours=2))
    _assert_error(_schedule(client, body), 400, "send_at_in_past")  # as a new request, it would be refused
    again = _schedule(client, body, {"Idempotency-Key": "late"})
    assert again.status_code == 201
    assert json_of(again)["job_id"] == first["job_id"] and json_of(again)["status"] == "sent"


@pytest.mark.parametrize("key", ["", "   ", "x" * 201, "caf\u00e9"], ids=["empty", "blank", "too-long", "non-ascii"])
def test_bad_idempotency_keys(client, key):
    response = _schedule(client, {"to": BOB, "message": "x", "send_at": _future()},
                         {"Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    _assert_error(response, 400, "invalid_idempotency_key", "Idempotency-Key")


def test_concurrent_requests_with_one_key_make_one_job(app):
    body = {"number": BOB, "minutes": 30, "message": "race"}
    barrier = threading.Barrier(8)
    results: list = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        response = _schedule(client, body, {"Idempotency-Key": "race-1"}, "/v1/message/schedule")
        results.append((response.status_code, json_of(response)))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [status for status, _ in results] == [201] * 8, results
    assert len({body["job_id"] for _, body in results}) == 1
    assert len(_rows(app)) == 1


# --- GET /sms/scheduled ------------------------------------------------------------------------

def test_list_is_empty_at_first(client):
    response = client.get("/sms/scheduled", headers=AUTH)
    assert response.status_code == 200 and json_of(response) == []
    assert "Link" not in response.headers and "X-Next-Cursor" not in response.headers


def test_list_newest_first_and_pages(client):
    ids = [_job(client, message=f"m{n}")["job_id"] for n in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/sms/scheduled", query_string=query, headers=AUTH)
        assert response.status_code == 200
        page = json_of(response)
        assert all(set(item) == {"id", "to", "status", "scheduled_for", "created_at", "source"} for item in page)
        assert {item["source"] for item in page} <= {"api"}
        seen += [item["id"] for item in page]
        pages += 1
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in response.headers
            break
        assert response.headers["Link"].endswith('rel="next"') and "cursor=" in response.headers["Link"]
    assert seen == list(reversed(ids)) and pages == 3


def test_list_filters_by_status(app, client):
    kept = _job(client)["job_id"]
    gone = _job(client)["job_id"]
    assert client.delete(f"/sms/scheduled/{gone}", headers=AUTH).status_code == 200
    cancelled = json_of(client.get("/sms/scheduled?status=cancelled", headers=AUTH))
    scheduled = json_of(client.get("/sms/scheduled?status=scheduled", headers=AUTH))
    assert [item["id"] for item in cancelled] == [gone]
    assert [item["id"] for item in scheduled] == [kept]
    assert json_of(client.get("/sms/scheduled?status=sent", headers=AUTH)) == []


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=abc", "limit"), ("limit=-1", "limit"), ("limit=", "limit"),
    ("limit=%C2%B2", "limit"), ("cursor=!!!", "cursor"), ("cursor=", "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b'["x", "abc123"]').decode(), "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"{}").decode(), "cursor"),
    ("status=bogus", "status"), ("status=", "status"), ("stauts=sent", "stauts"),
], ids=["limit-0", "limit-201", "limit-word", "limit-negative", "limit-empty", "limit-superscript", "cursor-junk",
        "cursor-empty", "cursor-bad-date", "cursor-object", "status-unknown", "status-empty",
        "unknown-parameter"])
def test_list_rejects_bad_parameters(client, query, field):
    _assert_error(client.get(f"/sms/scheduled?{query}", headers=AUTH), 400, field=field)


def test_list_limit_200_is_allowed(client):
    assert client.get("/sms/scheduled?limit=200", headers=AUTH).status_code == 200


# --- GET /sms/scheduled/<id> and DELETE ----------------------------------------------------------

def test_get_returns_the_full_record(client):
    job = _job(client, message="full record")
    response = client.get(f"/sms/scheduled/{job['job_id']}", headers=AUTH)
    assert response.status_code == 200
    record = json_of(response)
    assert record["id"] == job["job_id"] and record["to"] == BOB and record["message"] == "full record"
    assert record["scheduled_for"] == job["scheduled_for"] and record["status"] == "scheduled"
    assert record["created_at"].endswith("Z") and record["source"] == "api"
    for later in ("sent_at", "provider_message_id", "delivery_status", "error", "cancelled_at"):
        assert later not in record  # known only once it happens
    assert client.get(f"/sms/scheduled/{job['job_id'].upper()}", headers=AUTH).status_code == 200


@pytest.mark.parametrize("reminder_id", ["zzzzzz", "not-an-id", "a" * 40, "%2e%2e"], ids=[
    "unknown", "bad-shape", "long", "dots"])
@pytest.mark.parametrize("method", ["get", "delete"])
def test_unknown_ids_are_404(client, method, reminder_id):
    _assert_error(getattr(client, method)(f"/sms/scheduled/{reminder_id}", headers=AUTH), 404, "not_found")


def test_guessing_ids_is_capped_where_ids_are_looked_up(client):
    from webhooks.limits import ID_MISS_LIMIT

    misses = int(ID_MISS_LIMIT.split("/")[0])
    codes = [client.get(f"/sms/scheduled/zz{n:04d}", headers=AUTH).status_code for n in range(misses + 2)]
    # The limiter's sliding window may let one more through when the requests straddle a minute.
    assert codes.index(429) in (misses, misses + 1) and set(codes[codes.index(429):]) == {429}
    assert client.delete("/sms/scheduled/zz9999", headers=AUTH).status_code == 429
    assert client.get("/sms/scheduled/zz9999", headers=AUTH).status_code == 429
    # Scheduling and listing look no id up: the cap does not stop them.
    _job(client)
    assert client.get("/sms/scheduled", headers=AUTH).status_code == 200


def test_the_api_rate_limit_applies_where_ids_are_looked_up_too(app_factory):
    client = app_factory(RUN_DISPATCHER=False, RATE_LIMIT_API="2/hour").test_client()
    codes = [client.get(f"/sms/scheduled/zz{n:04d}", headers=AUTH).status_code for n in range(3)]
    assert codes == [404, 404, 429]


def test_cancel(app, client):
    job = _job(client)
    response = client.delete(f"/sms/scheduled/{job['job_id']}", headers=AUTH)
    assert response.status_code == 200
    body = json_of(response)
    assert set(body) == {"id", "status", "cancelled_at"}
    assert body["id"] == job["job_id"] and body["status"] == "cancelled" and body["cancelled_at"].endswith("Z")
    record = json_of(client.get(f"/sms/scheduled/{job['job_id']}", headers=AUTH))
    assert record["status"] == "cancelled" and record["cancelled_at"] == body["cancelled_at"]


@pytest.mark.parametrize("status", [Status.SENT, Status.DELIVERED, Status.FAILED, Status.CANCELLED])
def test_cancel_a_final_job_is_409_with_its_status(app, client, status):
    job = _job(client)
    _set_status(app, job["job_id"], status)
    response = client.delete(f"/sms/scheduled/{job['job_id']}", headers=AUTH)
    _assert_error(response, 409, "not_cancellable")
    body = json_of(response)
    assert body["status"] == status and body["id"] == job["job_id"]
    assert status in body["error"]["message"]


def test_replies_and_notices_are_not_jobs(app, client, signer):
    assert send_sms(client, signer, "help", ALICE)["status"] == "handled"  # queues a reply row
    with app.extensions["bot"].session_factory() as session:
        reply = session.scalars(select(Reminder).where(Reminder.kind == Kind.REPLY)).one()
    assert json_of(client.get("/sms/scheduled", headers=AUTH)) == []
    _assert_error(client.get(f"/sms/scheduled/{reply.id}", headers=AUTH), 404)
    _assert_error(client.delete(f"/sms/scheduled/{reply.id}", headers=AUTH), 404)


# --- One store for SMS and API -------------------------------------------------------------------

def test_a_reminder_set_by_sms_is_listed_shown_and_cancellable(app, client, signer):
    outcome = send_sms(client, signer, "remind me in 1 hour: water the plants", ALICE)
    assert outcome["status"] == "handled" and outcome["command"] == "remind", outcome
    [item] = json_of(client.get("/sms/scheduled", headers=AUTH))
    assert item["to"] == ALICE and item["status"] == "scheduled"
    record = json_of(client.get(f"/sms/scheduled/{item['id']}", headers=AUTH))
    assert record["message"] == "water the plants" and record["source"] == "sms"
    assert client.delete(f"/sms/scheduled/{item['id']}", headers=AUTH).status_code == 200
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Reminder, item["id"]).status == Status.CANCELLED


def test_api_and_sms_reminders_share_one_listing(client, signer):
    assert send_sms(client, signer, "remind me in 1 hour: by text", ALICE)["status"] == "handled"
    job = _job(client, message="by api")
    listed = json_of(client.get("/sms/scheduled", headers=AUTH))
    assert [item["id"] for item in listed][0] == job["job_id"] and len(listed) == 2


# --- Flask's own errors on API paths are JSON ----------------------------------------------------

@pytest.mark.parametrize("method,path,status", [
    ("get", "/sms/schedule", 405), ("put", "/sms/scheduled", 405), ("patch", "/sms/scheduled/abc123", 405),
    ("get", "/v1/message/schedule", 405), ("get", "/sms/nothing-here", 404),
], ids=["get-schedule", "put-list", "patch-job", "get-studio", "unknown-path"])
def test_routing_errors_are_json(client, method, path, status):
    _assert_error(getattr(client, method)(path, headers=AUTH), status)


def test_no_row_is_written_for_refused_requests(app, client):
    client.post("/sms/schedule", json={"to": BOB, "message": "x", "send_at": _future()})  # no token
    with app.extensions["bot"].session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 0
