"""Send through Twilio's Messaging API with the official SDK (twilio 9.x).

Twilio has no idempotency key. A send whose outcome is unknown (a timeout, a connection
reset after the request left) may have gone out, so before the dispatcher sends an
occurrence again it asks ``find_sent`` (bot.delivery.transport.FindsEarlierSends):
Twilio's message list, filtered to the same recipient and sender, read for a message with
the same body created since the occurrence was due.

The SDK's HTTP client is replaced by a small subclass of its own ``TwilioHttpClient``, for
three things the SDK has no option for: a base URL other than ``https://api.twilio.com``
(TWILIO_BASE_URL, tests), a timeout (it has none by default), and the response headers of a
refusal (``TwilioRestException`` carries none, and a 429's Retry-After is in them).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from bot.delivery.transport import EarlierSend, SendError, SendResult, retry_after_seconds
from bot.phones import mask_numbers_in
from bot.storage.models import DeliveryState

log = logging.getLogger(__name__)

TWILIO_API_URL = "https://api.twilio.com"
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"

# Error codes (https://www.twilio.com/docs/api/errors). 21610: the recipient replied STOP to this
# sender. 21211, 21612, 21614: the number is invalid, unreachable, not able to take SMS. Every
# other 4xx is permanent too, but for 401 (usually a token being rotated), 408 and 429.
OPTED_OUT_CODE = 21610
TOO_MANY_REQUESTS_CODE = 20429

# Twilio's message statuses (MessageStatus in callbacks, ``status`` in the API) as the bot stores them.
DELIVERY_STATES = {
    "accepted": DeliveryState.QUEUED,  # a Messaging Service has it and has not picked a sender yet
    "scheduled": DeliveryState.QUEUED,
    "queued": DeliveryState.QUEUED,
    "sending": DeliveryState.SENDING,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,  # WhatsApp and RCS only; it was delivered first
    "undelivered": DeliveryState.DELIVERY_FAILED,  # the carrier refused or lost it
    "failed": DeliveryState.SENDING_FAILED,  # Twilio could not send it
    "canceled": DeliveryState.SENDING_FAILED,
}

# How many of the newest messages to one recipient a look-up reads. An earlier attempt's message
# is among the last few the bot sent there, unless the bot sent that number this many since.
LOOKUP_LIMIT = 50

# A Messaging Service's "smart encoding" may replace these in the body before storing it: an
# earlier attempt is recognised with or without that replacement.
_SMART_CHARACTERS = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                                   "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                                   "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " "})


def delivery_state(message_status: str) -> DeliveryState | None:
    """Return the bot's delivery state for a Twilio message status; None for one it does not track."""
    return DELIVERY_STATES.get(message_status.strip().lower())


def _comparable(body: str) -> str:
    return body.translate(_SMART_CHARACTERS).strip()


def _http_client_class() -> type:
    """Build the HTTP client subclass once the SDK is imported (importing it takes about 0.4 s)."""
    from requests.adapters import HTTPAdapter
    from twilio.http.http_client import TwilioHttpClient

    class HttpClient(TwilioHttpClient):
        """Twilio's HTTP client pointed at ``base_url``, with a timeout, keeping each thread's last response."""

        def __init__(self, base_url: str | None, timeout: float, pool_size: int) -> None:
            # The SDK logs every request at INFO, the recipient's number in the query string included.
            quiet = logging.getLogger(f"{__name__}.sdk")
            quiet.setLevel(logging.WARNING)
            super().__init__(timeout=timeout, logger=quiet)
            # One connection per sending thread, for http:// (a local fake) as for https://.
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
            self.base_url = base_url
            self.answers = threading.local()

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if self.base_url and url.startswith(TWILIO_API_URL):
                url = self.base_url + url[len(TWILIO_API_URL):]
            self.answers.last = None
            response = super().request(method, url, *args, **kwargs)
            self.answers.last = response
            return response

        def last_headers(self) -> Any:
            """Return the headers of this thread's last answer ({} when there was none)."""
            response = getattr(self.answers, "last", None)
            return response.headers if response is not None else {}

    return HttpClient


class TwilioTransport:
    """Send through Twilio; the SDK's client is built in a background thread as soon as this is made."""

    def __init__(self, account_sid: str, auth_token: str, *, phone_number: str | None = None,
                 messaging_service_sid: str | None = None, public_base_url: str | None = None,
                 base_url: str | None = None, timeout: float = 10.0, pool_size: int = 10) -> None:
        if not phone_number and not messaging_service_sid:
            raise ValueError("a Twilio sender needs a phone number or a Messaging Service SID")
        self.phone_number = phone_number
        self.messaging_service_sid = messaging_service_sid
        # Without a public URL Twilio has nowhere to report delivery to: the reports are not asked for.
        self.status_callback = public_base_url.rstrip("/") + STATUS_CALLBACK_PATH if public_base_url else None
        self._options = dict(account_sid=account_sid, auth_token=auth_token, base_url=base_url, timeout=timeout,
                             pool_size=max(pool_size, 1))
        self._client: Any = None
        self._http: Any = None
        self._error: BaseException | None = None
        self._loaded = threading.Event()
        threading.Thread(target=self._load, name="twilio-import", daemon=True).start()

    def _load(self) -> None:
        try:
            from twilio.rest import Client

            options = self._options
            http = _http_client_class()(options["base_url"], options["timeout"], options["pool_size"])
            client = Client(options["account_sid"], options["auth_token"], http_client=http, environment={})
            client.messages  # noqa: B018 (first use imports the resource module)
            self._client, self._http = client, http
        except BaseException as exc:  # surfaced to the first send
            self._error = exc
        finally:
            self._loaded.set()

    @property
    def ready(self) -> bool:
        return self._loaded.is_set() and self._error is None

    def _messages(self) -> Any:
        self._loaded.wait()
        if self._error is not None:
            raise RuntimeError("could not load the Twilio SDK") from self._error
        return self._client.messages

    def send(self, *, from_number: str, to: str, text: str, idempotency_key: str) -> SendResult:
        """Send one SMS from the configured number or Messaging Service (``from_number`` is not used)."""
        messages = self._messages()
        sender: dict[str, str] = {}
        if self.messaging_service_sid:
            sender["messaging_service_sid"] = self.messaging_service_sid
        if self.phone_number:
            sender["from_"] = self.phone_number
        if self.status_callback:
            sender["status_callback"] = self.status_callback
        message = self._call(lambda: messages.create(to=to, body=text, **sender))
        return SendResult(message.sid)

    def find_sent(self, *, to: str, text: str, since: datetime) -> list[EarlierSend]:
        """Return the messages to ``to`` with this body Twilio took since ``since``, newest first.

        Filtered by To (and From when sending from a number) at Twilio, by date and body here.
        Not by Twilio's DateSent: a message Twilio accepted but has not sent yet (still queued
        behind the account's rate) has no date_sent, and an uncertain attempt's is just such a one.
        """
        messages = self._messages()
        filters = {"from_": self.phone_number} if self.phone_number else {}
        listed = self._call(lambda: messages.list(to=to, limit=LOOKUP_LIMIT, page_size=LOOKUP_LIMIT, **filters),
                            doing="looking up earlier attempts at Twilio")
        wanted = _comparable(text)
        found = [message for message in listed
                 if message.date_created is not None and message.date_created >= since.replace(microsecond=0)
                 and str(message.direction or "").startswith("outbound")
                 and (not self.messaging_service_sid or message.messaging_service_sid == self.messaging_service_sid)
                 and _comparable(message.body or "") == wanted]
        found.sort(key=lambda message: message.date_created, reverse=True)
        return [EarlierSend(message.sid, delivery_state(str(message.status or ""))) for message in found]

    def _call(self, request: Any, doing: str = "talking to Twilio") -> Any:
        """Run one SDK call; raise SendError saying whether trying again could help."""
        import requests
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            return request()
        except requests.exceptions.Timeout as exc:
            raise SendError(f"timeout {doing}", permanent=False) from exc
        except requests.exceptions.RequestException as exc:
            # The reason is logged, stored in the reminder's error column and told to its owner.
            raise SendError(mask_numbers_in(f"network error {doing}: {exc}"), permanent=False) from exc
        except TwilioRestException as exc:
            raise _status_error(exc, self._http.last_headers()) from exc
        except TwilioException as exc:  # a 2xx whose body is not what the SDK expects: it may have gone out
            raise SendError(f"unexpected answer from Twilio: {str(exc)[:200]}", permanent=False) from exc


def _status_error(exc: Any, headers: Any) -> SendError:
    status = int(exc.status)
    code = int(exc.code) if isinstance(exc.code, int) or str(exc.code or "").isdigit() else None
    detail = str(exc.msg or "").split(": ", 1)[-1]  # the SDK puts "Unable to create record: " first
    # Twilio's message may quote the recipient's number; the reason is stored and told to the owner.
    reason = mask_numbers_in(f"Twilio {status}" + (f" {code}" if code else "") + (f": {detail}" if detail else ""))
    transient = status in (401, 408, 429) or status >= 500 or code == TOO_MANY_REQUESTS_CODE
    return SendError(reason[:500], permanent=not transient, retry_after=retry_after_seconds(headers.get("Retry-After")),
                     status=429 if code == TOO_MANY_REQUESTS_CODE else status,
                     code=str(code) if code else None, opted_out=code == OPTED_OUT_CODE)
