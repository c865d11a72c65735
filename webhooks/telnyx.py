"""The Telnyx webhook: verify the signature, translate the event, hand it to the bot.

Telnyx retries an event answered with a 5xx, so a 5xx means "try again" here and
nothing else (a database that does not answer: 503). An event the bot cannot use
(not JSON, nested too deep, a 5,000-digit number, a missing field, a wrong type, an
id with a NUL or a lone surrogate, which neither PostgreSQL nor UTF-8 can hold)
gets a 400 that says which field; an event type the bot does not handle gets 200
``ignored``. A message is answered ``accepted`` as soon as it is stored (``duplicate`` when
its id was stored before); the bot reads it and queues its reply moments later. The text of
a message is read as leniently as a phone shows it: a lone surrogate (half an emoji)
becomes U+FFFD and the parser drops control characters.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from bot.conversation.inbound import InboundSms
from bot.service import Bot
from webhooks.errors import ApiError, json_response, register_error_handlers
from webhooks.limits import read_body
from webhooks.signature import SignatureError, verify_signature

log = logging.getLogger(__name__)

blueprint = Blueprint("telnyx_webhook", __name__)
register_error_handlers(blueprint)

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")  # JSON's "\ud83d" without its pair: no UTF-8 for it


def verified_event(raw_body: bytes, headers: Any, public_key: str | None, now: float) -> dict:
    """Check the signature (see ``webhooks.signature``), then return the JSON body."""
    if not public_key:
        log.error("Refusing a webhook: TELNYX_PUBLIC_KEY is not set, so signatures cannot be checked.")
        raise ApiError(503, "webhook_not_configured",
                       "Webhook signature verification is not configured (set TELNYX_PUBLIC_KEY).")
    try:
        verify_signature(raw_body, headers, public_key, now)
    except SignatureError as exc:
        log.warning("Refusing a webhook with a bad signature: %s", str(exc)[:200])
        raise ApiError(401, "invalid_signature", f"Signature check failed: {str(exc)[:200]}") from exc
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_body", "The body is not UTF-8.") from exc
    except RecursionError as exc:
        raise ApiError(400, "invalid_json", "The body is nested too deeply to read.") from exc
    except ValueError as exc:  # JSONDecodeError, or an integer over Python's 4,300 digits
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_event", "The body must be a JSON object.")
    return body


def _field(mapping: Any, key: str, path: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ApiError(400, "invalid_event", f"Missing {path}.", field=path)
    return mapping[key]


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_event", f"{path} must be a non-empty string.", field=path)
    return value


def _identifier(value: Any, path: str) -> str:
    """An id, number or status from Telnyx: printable text (no NUL, control character or lone surrogate)."""
    text = _string(value, path)
    if not text.isprintable():
        raise ApiError(400, "invalid_event", f"{path} must be printable text.", field=path)
    return text


def inbound_sms_from_event(data: dict) -> InboundSms:
    """Translate a ``message.received`` event into the domain's InboundSms."""
    payload = _field(data, "payload", "data.payload")
    sender = _identifier(_field(_field(payload, "from", "data.payload.from"), "phone_number",
                                "data.payload.from.phone_number"), "data.payload.from.phone_number")
    text = payload.get("text") if isinstance(payload, dict) else None
    if text is None:
        text = ""  # an MMS with no text: the bot answers with help
    if not isinstance(text, str):
        raise ApiError(400, "invalid_event", "data.payload.text must be a string.", field="data.payload.text")
    message_id = _identifier(_field(payload, "id", "data.payload.id"), "data.payload.id")
    event_id = _identifier(data["id"], "data.id") if data.get("id") is not None else None
    return InboundSms(message_id=message_id[:128], sender=sender.strip()[:64],
                      text=_LONE_SURROGATE.sub("\ufffd", text), event_id=event_id[:128] if event_id else None)


@blueprint.post("/webhooks/telnyx")
def receive_event() -> ResponseReturnValue:
    bot: Bot = current_app.extensions["bot"]
    body = verified_event(read_body(), request.headers, bot.settings.telnyx_public_key, time.time())
    data = _field(body, "data", "data")
    event_type = _string(_field(data, "event_type", "data.event_type"), "data.event_type")
    if event_type == "message.received":
        # 200 once the message is stored: the reply is worked out off the request (bot.conversation.inbox).
        return json_response({"status": bot.receive_sms(inbound_sms_from_event(data))})
    if event_type in ("message.sent", "message.finalized"):
        return jsonify(status="recorded" if _record_status(bot, data) else "unknown_message")
    return jsonify(status="ignored", event_type=event_type[:64])


def _record_status(bot: Bot, data: dict) -> bool:
    payload = _field(data, "payload", "data.payload")
    message_id = _identifier(_field(payload, "id", "data.payload.id"), "data.payload.id")
    recipients = payload.get("to")
    status = None
    if isinstance(recipients, list) and recipients and isinstance(recipients[0], dict):
        status = recipients[0].get("status")
    if not isinstance(status, str) or not status.isprintable():
        raise ApiError(400, "invalid_event", "data.payload.to[0].status must be printable text.",
                       field="data.payload.to")
    return bot.record_delivery_status(message_id, status[:32])
