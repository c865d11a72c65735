"""The Twilio webhooks: an inbound SMS, and the delivery status of a message the bot sent.

Twilio posts form fields (``MessageSid``, ``From``, ``Body``, ... and any it adds without
notice) and signs them: ``X-Twilio-Signature`` is an HMAC of the URL it called and the sorted
fields, keyed with the account's Auth Token, checked here by the SDK's ``RequestValidator``.
The URL is the public one (PUBLIC_BASE_URL and the path), as Twilio called it through ngrok or
a proxy, not the one this app sees. Fail closed: without an auth token or a public URL every
request gets 503, a missing or wrong signature 403, and nothing is stored.

An inbound SMS is stored exactly as Telnyx's are (``Bot.receive_sms``: one pipeline, deduplicated
on MessageSid) and answered at once with an empty TwiML ``<Response/>``: the bot reads it off
the request and its reply goes out through the dispatcher like every other message. The
``Bot-Outcome`` header says ``accepted`` or ``duplicate``, for Twilio's request inspector and tests.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from bot.conversation.inbound import InboundSms
from bot.delivery.twilio_transport import delivery_state
from bot.service import Bot
from bot.settings import Settings
from webhooks.errors import ApiError, register_error_handlers
from webhooks.limits import read_body

log = logging.getLogger(__name__)

blueprint = Blueprint("twilio_webhook", __name__)
register_error_handlers(blueprint)

SIGNATURE_HEADER = "X-Twilio-Signature"
OUTCOME_HEADER = "Bot-Outcome"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@lru_cache(maxsize=4)
def _validator(auth_token: str) -> Any:
    from twilio.request_validator import RequestValidator

    return RequestValidator(auth_token)


def public_url(public_base_url: str) -> str:
    """Return the URL Twilio called for this request: PUBLIC_BASE_URL, the path, and the query as sent."""
    query = request.query_string.decode("latin-1")
    return public_base_url.rstrip("/") + request.path + (f"?{query}" if query else "")


def verified_form(settings: Settings) -> Any:
    """Check the request's X-Twilio-Signature (see the module's docstring), then return its form fields."""
    if not settings.twilio_auth_token or not settings.public_base_url:
        log.error("Refusing a Twilio webhook: TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL are needed to check signatures.")
        raise ApiError(503, "webhook_not_configured", "Twilio signature verification is not configured "
                       "(set TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL).")
    read_body()  # 413 over MAX_BODY_BYTES, however the body was sent; the form is parsed from it
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        log.warning("Refusing a Twilio webhook without %s", SIGNATURE_HEADER)
        raise ApiError(403, "invalid_signature", f"Missing {SIGNATURE_HEADER}.")
    url = public_url(settings.public_base_url)
    if not _validator(settings.twilio_auth_token).validate(url, request.form, signature):
        # The usual cause is a PUBLIC_BASE_URL that is not the URL Twilio calls (a new ngrok address).
        log.warning("Refusing a Twilio webhook with a bad signature for %s", url)
        raise ApiError(403, "invalid_signature", f"Signature check failed for {url} (is PUBLIC_BASE_URL the "
                       "URL configured at Twilio?).")
    return request.form


def _identifier(form: Any, name: str) -> str:
    """A SID, number or status from Twilio: printable text of at most 128 characters."""
    value = form.get(name, "")
    if not value.strip():
        raise ApiError(400, "invalid_event", f"Missing {name}.", field=name)
    if not value.isprintable() or len(value) > 128:
        raise ApiError(400, "invalid_event", f"{name} must be printable text of at most 128 characters.", field=name)
    return value.strip()


def inbound_sms_from_form(form: Any) -> InboundSms:
    """Translate Twilio's inbound message fields into the domain's InboundSms."""
    text = form.get("Body", "")  # an MMS with no text: the bot answers with help
    if form.get("OptOutType", "").strip().upper() == "STOP":
        # Twilio has opted the sender out already, whichever keyword did it (its defaults, or an Advanced
        # Opt-Out keyword the bot's parser does not know): the bot's records follow, exactly as for STOP.
        # START and HELP are read from the text as usual (YES is an opt-in word to Twilio and a consent here).
        text = "STOP"
    return InboundSms(message_id=_identifier(form, "MessageSid"), sender=_identifier(form, "From")[:64], text=text)


@blueprint.post("/webhooks/twilio")
def receive_message() -> ResponseReturnValue:
    bot: Bot = current_app.extensions["bot"]
    form = verified_form(bot.settings)
    acceptance = bot.receive_sms(inbound_sms_from_form(form))
    response = Response(EMPTY_TWIML, mimetype="text/xml")
    response.headers[OUTCOME_HEADER] = str(acceptance)
    return response


@blueprint.post("/webhooks/twilio/status")
def receive_status() -> ResponseReturnValue:
    bot: Bot = current_app.extensions["bot"]
    form = verified_form(bot.settings)
    message_id = _identifier(form, "MessageSid")
    message_status = _identifier(form, "MessageStatus")
    state = delivery_state(message_status)
    if state is None:  # receiving, received, partially_delivered: nothing the bot tracks
        return jsonify(status="ignored", message_status=message_status[:32])
    code = form.get("ErrorCode", "").strip()
    detail = f"Twilio {code}" if code.isdigit() and len(code) <= 8 else None
    recorded = bot.record_delivery_status(message_id, state, detail)
    return jsonify(status="recorded" if recorded else "unknown_message")
