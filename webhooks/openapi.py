"""The OpenAPI 3.1 document served at GET /openapi.json.

Built from the same limits the code enforces (``bot.api.messages``). Request schemas are
never stricter than the views: everything the API accepts is valid here, and the
checks JSON Schema cannot say (a future time, a real phone number, a known zone)
are described in prose and answered with 400. No secret appears here.
"""

from __future__ import annotations

from typing import Any

from bot.api import messages as scheduled

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _json(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "required": False, "schema": {"type": "string"}}


_STATUS = {"type": "string", "enum": list(scheduled.STATUSES)}
_SOURCE = {"type": "string", "enum": ["api", "sms"],
           "description": "Who set it: api (this API, the operator's own messages) or sms (a person, by text)."}
_INSTANT = {"type": "string", "format": "date-time", "description": "ISO 8601 in UTC, with a Z."}
_E164 = {"type": "string", "pattern": scheduled.E164.pattern,
         "description": "The recipient in E.164 format (+ and country code), e.g. +12125550147."}
_MESSAGE = {"type": "string", "minLength": 1, "maxLength": scheduled.MAX_MESSAGE_LENGTH,
            "description": f"The text to send, at most {scheduled.MAX_MESSAGE_LENGTH} characters. As in an SMS "
                           "command, control characters (newlines too) become a space, invisible ones are "
                           "dropped and the ends are trimmed; the rest is sent as written. With its label it "
                           "must fit 10 SMS segments (153 GSM-7 characters each, 67 once one character needs "
                           "UCS-2), else 400 message_too_long, unless the operator set AUTO_CHUNK."}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Retrying with the same key returns the job the first request created (status 201, "
                   "header Idempotent-Replayed: true); the same key with a different body is a 422. "
                   "Keys are scoped per endpoint.",
    "schema": {"type": "string", "minLength": 1, "maxLength": scheduled.MAX_IDEMPOTENCY_KEY_LENGTH},
}
_ID_PARAMETER = {"name": "id", "in": "path", "required": True, "description": "The job id, e.g. k3x9qa.",
                 "schema": {"type": "string"}}
_CREATED_HEADERS = {"Location": _header("The URL of the new job."),
                    "Idempotent-Replayed": _header("true when an Idempotency-Key matched an earlier request.")}
_COMMON_ERRORS = {
    "401": _error("Missing or wrong bearer token."),
    "429": {**_error("Too many requests from this client (RATE_LIMIT_API, and fewer for unknown ids)."),
            "headers": {"Retry-After": _header("Seconds to wait before trying again.")}},
    "503": {**_error("Code api_disabled: the API is off because API_TOKEN is not set (no Retry-After: waiting "
                     "does not help). Code database_unavailable: the database does not answer just now."),
            "headers": {"Retry-After": _header("Seconds to wait; sent with database_unavailable only.")}},
}
_CREATE_ERRORS = {
    "400": _error("Invalid input: not JSON, wrong content type, a missing, empty or mistyped field, an "
                  "unreadable or past time, more than 365 days ahead, an impossible phone number, or a "
                  "message over 1,600 characters. error.field names the field."),
    "413": _error("The body is larger than MAX_BODY_BYTES."),
    "422": _error("The Idempotency-Key was already used for a different request."),
    **_COMMON_ERRORS,
    # Consent and the API's own limits.
    "409": _error("Code recipient_opted_out: the recipient opted out (texted STOP or the like), so nothing is "
                  "scheduled for it until it texts START. error.field names the number's field."),
    "429": {**_error("Too many requests from this client (code too_many_requests, RATE_LIMIT_API), or one of the "
                     "API's own limits over all its messages is reached (code api_limit_reached, the setting in "
                     "limit): API_MAX_PENDING pending, API_MAX_NEW_PER_HOUR new an hour, "
                     "API_MAX_RECIPIENTS_PER_DAY distinct numbers a day."),
            "headers": {"Retry-After": _header("Seconds until the limit clears, where that is known.")}},
}


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 description of the REST API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SMS reminder bot API",
            "version": "1.0.0",
            "description": "Schedule SMS messages over HTTP on the same store as the SMS commands. Serves the "
                           "Telnyx 'schedule SMS messages' contract (/sms/...) and the Twilio Studio example's "
                           "(/v1/message/schedule). Input errors are 400 with {\"error\": {\"code\", \"message\", "
                           "\"field\"}}.",
        },
        "security": [{"bearerAuth": []}],
        "paths": {
            "/sms/schedule": {"post": {
                "operationId": "scheduleSms",
                "summary": "Schedule an SMS at a time (send_at) or a phrase (when).",
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ScheduleSms"}}}},
                "responses": {"201": _json("The job was created.", {"$ref": "#/components/schemas/Job"},
                                           _CREATED_HEADERS), **_CREATE_ERRORS},
            }},
            "/v1/message/schedule": {"post": {
                "operationId": "scheduleMessage",
                "summary": "Schedule an SMS some minutes from now (the Twilio Studio widget's body).",
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ScheduleMessage"}}}},
                "responses": {"201": _json("The job was created.", {"$ref": "#/components/schemas/Job"},
                                           _CREATED_HEADERS), **_CREATE_ERRORS},
            }},
            "/sms/scheduled": {"get": {
                "operationId": "listScheduled",
                "summary": "List reminders, newest first, from the API and from SMS alike.",
                "parameters": [
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": scheduled.MAX_PAGE_SIZE,
                                "default": scheduled.DEFAULT_PAGE_SIZE}},
                    {"name": "cursor", "in": "query", "required": False,
                     "description": "The X-Next-Cursor of the previous page (also in its Link header).",
                     "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "required": False, "schema": _STATUS},
                ],
                "responses": {
                    "200": _json("One page of summaries.",
                                 {"type": "array", "items": {"$ref": "#/components/schemas/Summary"}},
                                 {"Link": _header('The next page: <...>; rel="next". Absent on the last page.'),
                                  "X-Next-Cursor": _header("The cursor of the next page. Absent on the last page.")}),
                    "400": _error("A bad limit, cursor or status."),
                    **_COMMON_ERRORS,
                },
            }},
            "/sms/scheduled/{id}": {
                "get": {
                    "operationId": "getScheduled",
                    "summary": "Get one job's full record.",
                    "parameters": [_ID_PARAMETER],
                    "responses": {"200": _json("The job.", {"$ref": "#/components/schemas/Record"}),
                                  "404": _error("No job with this id."), **_COMMON_ERRORS},
                },
                "delete": {
                    "operationId": "cancelScheduled",
                    "summary": "Cancel a job that is not sent yet.",
                    "parameters": [_ID_PARAMETER],
                    "responses": {
                        "200": _json("Cancelled.", {"$ref": "#/components/schemas/Cancelled"}),
                        "404": _error("No job with this id."),
                        "409": _json("Being sent right now (code sending) or already sent, delivered, failed or cancelled "
                                     "(code not_cancellable); status says which.",
                                     {"$ref": "#/components/schemas/NotCancellable"}),
                        **_COMMON_ERRORS,
                    },
                },
            },
            "/openapi.json": {"get": {
                "operationId": "getOpenapi",
                "summary": "This document.",
                "security": [],
                "responses": {"200": _json("The OpenAPI document.", {"type": "object"}),
                              "429": _COMMON_ERRORS["429"]},
            }},
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "The API_TOKEN setting."}},
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        "ScheduleSms": {
            "type": "object",
            "required": ["to", "message"],
            "properties": {
                "to": _E164,
                "message": _MESSAGE,
                "send_at": {"type": "string", "description": "ISO 8601 date and time in the future, at most 365 "
                            "days ahead. With Z or an offset it is that instant; without one it is UTC. "
                            "Give send_at or when."},
                "when": {"type": "string", "minLength": 1,
                         "description": 'A phrase read like the SMS command, e.g. "tomorrow 9am", "in 2 hours", '
                                        f'at most {scheduled.MAX_WHEN_LENGTH} characters.'},
                "tz": {"type": "string", "description": "The IANA zone to read when in (default BOT_TIMEZONE). "
                                                        "Only with when."},
            },
        },
        "ScheduleMessage": {
            "type": "object",
            "required": ["number", "minutes", "message"],
            "properties": {
                "number": _E164,
                "minutes": {"type": "integer", "minimum": scheduled.MIN_MINUTES, "maximum": scheduled.MAX_MINUTES,
                            "description": "Minutes from now: 1 to 525600 (365 days). No 15-minute minimum or "
                                           "7-day maximum."},
                "message": _MESSAGE,
            },
        },
        "Job": {
            "type": "object",
            "required": ["job_id", "status", "scheduled_for", "to"],
            "properties": {"job_id": {"type": "string"}, "status": _STATUS, "scheduled_for": _INSTANT,
                           "to": {"type": "string"}},
        },
        "Summary": {
            "type": "object",
            "required": ["id", "to", "status", "scheduled_for", "created_at", "source"],
            "properties": {"id": {"type": "string"}, "to": {"type": "string"}, "status": _STATUS,
                           "scheduled_for": _INSTANT, "created_at": _INSTANT, "source": _SOURCE},
        },
        "Record": {
            "type": "object",
            "required": ["id", "to", "message", "scheduled_for", "status", "created_at", "source"],
            "properties": {
                "id": {"type": "string"}, "to": {"type": "string"}, "message": {"type": "string"},
                "scheduled_for": _INSTANT, "status": _STATUS, "created_at": _INSTANT,
                "source": _SOURCE,
                "recurrence": {"type": "string", "description": "RFC 5545 RRULE of a repeating SMS reminder."},
                "sent_at": _INSTANT,
                "provider_message_id": {"type": "string"},
                "delivery_status": {"type": "string"},
                "error": {"type": "string"},
                "cancelled_at": _INSTANT,
            },
        },
        "Cancelled": {
            "type": "object",
            "required": ["id", "status", "cancelled_at"],
            "properties": {"id": {"type": "string"}, "status": {"const": "cancelled"}, "cancelled_at": _INSTANT},
        },
        "NotCancellable": {
            "allOf": [_ERROR],
            "required": ["id", "status"],
            "properties": {"id": {"type": "string"}, "status": _STATUS},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "field": {"type": "string", "description": "The request field at fault."}},
            }},
        },
    }
