"""The REST API: the Telnyx "schedule SMS" and Twilio Studio contracts on the reminders store.

Each view checks the bearer token, turns the JSON request into a ``bot.api.messages``
value, calls the domain and renders the row. Every error is the one JSON shape of
``webhooks.errors``; input errors are 400, a reused Idempotency-Key with another
body is 422 (as the IETF idempotency-key draft says), a job being sent or final is 409.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from bot.api import messages as scheduled
from bot.storage.models import Reminder, Status
from bot.api.messages import After, At, InvalidRequest, NewMessage, When
from bot.service import Bot
from bot.timeutil import iso_utc
from webhooks.errors import ApiError, error_response, json_response, register_error_handlers
from webhooks.limits import read_body
from webhooks.openapi import openapi_document

blueprint = Blueprint("api", __name__)
register_error_handlers(blueprint)

_PUBLIC_ENDPOINTS = {"api.get_openapi"}
# Scopes keep the two POST endpoints (and any future one) from sharing a key's job.
_KEY_SCOPES = {"schedule_sms": "api:sms:", "schedule_message": "api:v1:"}


def _bot() -> Bot:
    return current_app.extensions["bot"]


@blueprint.before_request
def require_token() -> ResponseReturnValue | None:
    """Answer 503 when no API_TOKEN is set and 401 without the right bearer token."""
    if request.endpoint in _PUBLIC_ENDPOINTS:
        return None
    token = _bot().settings.api_token
    if not token:
        return error_response(503, "api_disabled",
                              "The REST API is off: set API_TOKEN to a long random secret, restart, and send "
                              "it as 'Authorization: Bearer <API_TOKEN>'.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compare bytes: compare_digest refuses non-ASCII str, and header values can be anything.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        body, status = error_response(  # type: ignore[misc]
            401, "unauthorized", "Send the API token as 'Authorization: Bearer <API_TOKEN>'.")
        body.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return body, status
    return None


@blueprint.get("/openapi.json")
def get_openapi() -> ResponseReturnValue:
    return jsonify(openapi_document())


@blueprint.post("/sms/schedule")
def schedule_sms() -> ResponseReturnValue:
    """The Telnyx example's contract: {to, message, send_at | when [, tz]}."""
    body = _json_body()
    recipient = scheduled.read_recipient(_string(body, "to", strip=False), "to")
    text = scheduled.read_text(_string(body, "message", strip=False), "message")
    given = {name for name, value in body.items() if value is not None}  # null is as good as absent
    if {"send_at", "when"} <= given:
        raise ApiError(400, "conflicting_fields", "Give send_at or when, not both.", field="when")
    if "when" in given:
        phrase = _string(body, "when")
        if len(phrase) > scheduled.MAX_WHEN_LENGTH:
            raise ApiError(400, "invalid_when", f"when is longer than {scheduled.MAX_WHEN_LENGTH} characters.",
                           field="when")
        zone = scheduled.read_zone(_string(body, "tz")) if "tz" in given else _bot().settings.bot_timezone
        timing: At | When = When(phrase, zone)
        field = "when"
    else:
        if "send_at" not in given:
            raise ApiError(400, "missing_field", 'send_at is required (or when, a phrase like "tomorrow 9am").',
                           field="send_at")
        if "tz" in given:  # a naive send_at is UTC: a tz here would silently mean nothing
            raise ApiError(400, "conflicting_fields", "tz applies to when only; give send_at with Z or an offset.",
                           field="tz")
        timing = At(scheduled.read_send_at(_string(body, "send_at")))
        field = "send_at"
    return _create(NewMessage(recipient, text, timing, field))


@blueprint.post("/v1/message/schedule")
def schedule_message() -> ResponseReturnValue:
    """The Twilio Studio example's contract: {number, minutes, message}."""
    body = _json_body()
    recipient = scheduled.read_recipient(_string(body, "number", strip=False), "number")
    minutes = scheduled.read_minutes(_integer(body, "minutes"))
    text = scheduled.read_text(_string(body, "message", strip=False), "message")
    return _create(NewMessage(recipient, text, After(minutes), "minutes"))


@blueprint.get("/sms/scheduled")
def list_scheduled() -> ResponseReturnValue:
    unknown = sorted(set(request.args) - {"limit", "cursor", "status"})
    if unknown:  # a typo ("?stauts=") would otherwise list everything, silently
        raise ApiError(400, "unknown_parameter", f"Unknown query parameter {unknown[0][:40]!r}; use limit, cursor "
                       "or status.", field=unknown[0][:40])
    limit = _limit(request.args.get("limit"))
    status = request.args.get("status")
    if status is not None and status not in scheduled.STATUSES:
        raise ApiError(400, "invalid_status", f"status must be one of: {', '.join(scheduled.STATUSES)}.",
                       field="status")
    page = _bot().list_messages(limit=limit, cursor=request.args.get("cursor"), status=status)
    response = jsonify([_summary(reminder) for reminder in page.reminders])
    if page.next_cursor is not None:
        query = {"limit": limit, "cursor": page.next_cursor, **({"status": status} if status else {})}
        response.headers["Link"] = f'<{url_for("api.list_scheduled")}?{urlencode(query)}>; rel="next"'
        response.headers["X-Next-Cursor"] = page.next_cursor
    return response


@blueprint.get("/sms/scheduled/<reminder_id>")
def get_scheduled(reminder_id: str) -> ResponseReturnValue:
    reminder = _bot().get_message(reminder_id)
    if reminder is None:
        raise _not_found(reminder_id)
    return jsonify(_record(reminder))


@blueprint.delete("/sms/scheduled/<reminder_id>")
def cancel_scheduled(reminder_id: str) -> ResponseReturnValue:
    try:
        reminder = _bot().cancel_message(reminder_id)
    except scheduled.NotCancellable as exc:
        if exc.status == Status.SENDING:
            raise ApiError(409, "sending", f"Job {exc.reminder_id} is being sent right now; it cannot be cancelled. "
                           "It will end as sent (or failed).", extra={"id": exc.reminder_id, "status": exc.status}) from exc
        raise ApiError(409, "not_cancellable", f"Job {exc.reminder_id} is already {exc.status}; it cannot be "
                       "cancelled.", extra={"id": exc.reminder_id, "status": exc.status}) from exc
    if reminder is None:
        raise _not_found(reminder_id)
    return jsonify(id=reminder.id, status=reminder.status, cancelled_at=iso_utc(reminder.cancelled_at))


@blueprint.errorhandler(InvalidRequest)
def _invalid_request(error: InvalidRequest) -> ResponseReturnValue:
    return error_response(400, error.code, error.message, error.field)


# --- consent and the API's own limits ---
@blueprint.errorhandler(scheduled.RecipientOptedOut)
def _recipient_opted_out(error: scheduled.RecipientOptedOut) -> ResponseReturnValue:
    field = "number" if request.endpoint == "api.schedule_message" else "to"
    return error_response(409, "recipient_opted_out",
                          f"The number in {field} has opted out of messages from this number (it texted STOP "
                          "or the like); nothing can be scheduled for it unless it texts START.", field)


@blueprint.errorhandler(scheduled.ApiLimitReached)
def _api_limit_reached(error: scheduled.ApiLimitReached) -> ResponseReturnValue:
    body, status = error_response(429, "api_limit_reached", error.message, extra={"limit": error.setting})  # type: ignore[misc]
    if error.retry_after is not None:
        body.headers["Retry-After"] = str(error.retry_after)
    return body, status


def _create(message: NewMessage) -> ResponseReturnValue:
    key = _idempotency_key()
    try:
        created = _bot().schedule_message(message, key)
    except scheduled.IdempotencyConflict as exc:
        raise ApiError(422, "idempotency_key_reused",
                       f"This Idempotency-Key was already used for a different request (job {exc.reminder_id}); "
                       "use a new key for a new message.", field="Idempotency-Key") from exc
    reminder = created.reminder
    response = json_response({"job_id": reminder.id, "status": reminder.status,
                              "scheduled_for": iso_utc(reminder.send_at), "to": reminder.recipient}, 201)
    # Not url_for: it was a tenth of this request's own time (profiled). An id is [0-9a-z].
    response.headers["Location"] = f"{request.script_root}/sms/scheduled/{reminder.id}"
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > scheduled.MAX_IDEMPOTENCY_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiError(400, "invalid_idempotency_key",
                       f"Idempotency-Key must be 1 to {scheduled.MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII "
                       "characters, such as a UUID.", field="Idempotency-Key")
    return _KEY_SCOPES[request.endpoint.partition(".")[2]] + key  # type: ignore[union-attr]


def _json_body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(400, "unsupported_media_type", "Send the body as JSON with 'Content-Type: application/json'.")
    raw = read_body()  # 413 over MAX_BODY_BYTES, chunked or not
    try:
        body = json.loads(raw)
    except RecursionError as exc:
        raise ApiError(400, "invalid_json", "The body is nested too deeply to read.") from exc
    except ValueError as exc:  # UnicodeDecodeError, or an integer over Python's 4,300 digits
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    return body


def _string(body: dict[str, Any], name: str, *, strip: bool = True) -> str:
    value = body.get(name)
    if value is None:
        raise ApiError(400, "missing_field", f"{name} is required.", field=name)
    if not isinstance(value, str):
        raise ApiError(400, "invalid_type", f"{name} must be a string.", field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate ("\ud800") cannot be stored or sent
        raise ApiError(400, "invalid_text", f"{name} is not valid Unicode text.", field=name) from exc
    if not value.strip():
        raise ApiError(400, "empty_field", f"{name} must not be empty.", field=name)
    return value.strip() if strip else value


def _integer(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        raise ApiError(400, "missing_field", f"{name} is required.", field=name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "invalid_type", f"{name} must be a whole number.", field=name)
    return value


def _limit(value: str | None) -> int:
    if value is None:
        return scheduled.DEFAULT_PAGE_SIZE
    # Length first: int() refuses more than 4,300 digits (leading zeros too) with a ValueError.
    if (not value.isascii() or not value.isdigit() or len(value) > 9
            or not 1 <= int(value) <= scheduled.MAX_PAGE_SIZE):
        raise ApiError(400, "invalid_limit", f"limit must be a whole number from 1 to {scheduled.MAX_PAGE_SIZE}.",
                       field="limit")
    return int(value)


def _not_found(reminder_id: str) -> ApiError:
    return ApiError(404, "not_found", f"No scheduled message with id {reminder_id[:32]!r}.", field="id")


def _summary(reminder: Reminder) -> dict[str, Any]:
    return {"id": reminder.id, "to": reminder.recipient, "status": reminder.status,
            "scheduled_for": iso_utc(reminder.send_at), "created_at": iso_utc(reminder.created_at),
            "source": reminder.source}


def _record(reminder: Reminder) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": reminder.id, "to": reminder.recipient, "message": reminder.text,
        "scheduled_for": iso_utc(reminder.send_at), "status": reminder.status,
        "created_at": iso_utc(reminder.created_at), "source": reminder.source,
    }
    # Known only once something happened; absent rather than null until then.
    optional = {"recurrence": reminder.recurrence, "sent_at": iso_utc(reminder.sent_at),
                "provider_message_id": reminder.provider_message_id,
                "delivery_status": reminder.delivery_status, "error": reminder.error,
                "cancelled_at": iso_utc(reminder.cancelled_at)}
    record.update({name: value for name, value in optional.items() if value is not None})
    return record
