"""A small fake of Twilio's Messages API (2010-04-01): a real HTTP server on 127.0.0.1.

The real SDK talks to it through ``TWILIO_BASE_URL``. It checks HTTP Basic auth (the account
SID and auth token) as Twilio does, records every POST (To, From or MessagingServiceSid, Body,
StatusCallback, the Authorization header) and every GET of the message list, and answers like
Twilio: 201 and the Message resource as JSON; errors as ``{"code", "message", "more_info", "status"}``.
The list endpoint filters by To, From and DateSent (``DateSent``, ``DateSent<``, ``DateSent>``,
compared by day as Twilio documents), newest first, in pages (PageSize, Page).

Scripted answers (``push`` and ``rule``, as in tests/fake_telnyx.py, whose ``Reply`` works here
too: this module's ``Reply`` extends that one, tests/fake_server.py's): 429 with Retry-After, 5xx,
Twilio's refusals (``error_reply(21610)``), a slow answer (the message is taken on arrival, so a
client timeout leaves it sent), and ``Reply(drop=True)``: take the message, then close the
connection without answering.

``TwilioSigner`` signs webhooks as Twilio does (the SDK's ``RequestValidator.compute_signature``)
and builds the form fields of an inbound message and of a status callback.
"""

from __future__ import annotations

import base64
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.utils import format_datetime
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from tests import fake_server
from tests.fake_server import FakeServer, JsonHandler, ProviderMessage

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-token-0123456789abcd"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2
PUBLIC_BASE_URL = "https://bot.example.test"
API_VERSION = "2010-04-01"

# Twilio's default keywords (Messaging Services' Advanced Opt-Out may add more): a message that is
# exactly one of them (any case, trimmed) reaches the webhook with OptOutType.
OPT_OUT_KEYWORDS = {"STOP": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"),
                    "START": ("START", "YES", "UNSTOP"), "HELP": ("HELP", "INFO")}

ERROR_MESSAGES = {
    20003: "Authenticate",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number {to} is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number via SMS.",
    21614: "'To' number {to} is not a valid mobile number",
}


@dataclass(frozen=True)
class ReceivedMessage(ProviderMessage):
    """One POST to Messages.json that the fake took or refused (attribute names as in tests/fake_telnyx.py)."""

    status: int
    received_at: float
    provider_id: str | None = None  # the Message SID the fake answered with
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    idempotency_key: None = None  # Twilio has none
    replayed: bool = False


@dataclass
class Reply(fake_server.Reply):
    """A scripted answer as Twilio gives it (201, or its error shape when body is None), or a dropped connection."""

    status: int = 201
    drop: bool = False  # take the message, then close the connection without an answer


def error_reply(code: int, status: int = 400, headers: dict[str, str] | None = None) -> Reply:
    """Answer as Twilio refuses with error ``code`` (21610, 21211, ...)."""
    return Reply(status, headers or {}, {"code": code, "message": ERROR_MESSAGES.get(code, "scripted error"),
                                         "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})


class FakeTwilio(FakeServer[ReceivedMessage]):
    """Start with ``start()``; ``url`` is the TWILIO_BASE_URL for the SDK."""

    def __init__(self, latency: float = 0.0, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN,
                 pool_number: str = "+13125550100", clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(latency)
        self.account_sid = account_sid
        self.authorization = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.pool_number = pool_number  # the number a Messaging Service sends from
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.lookups: list[dict[str, str]] = []  # the query of every GET of the message list
        self.resources: dict[str, dict[str, Any]] = {}  # Message resources by SID, as the list shows them

    def _taken(self, message: ReceivedMessage) -> bool:
        """Say whether Twilio took the message (2xx, so it has a Message SID)."""
        return message.provider_id is not None

    def set_status(self, sid: str, status: str) -> None:
        """Move a taken message to ``status`` (delivered, undelivered, ...), as the list will show it."""
        with self._lock:
            self.resources[sid]["status"] = status

    def _default_reply(self) -> Reply:
        return Reply(201, delay=self.latency)

    def _take(self, form: dict[str, str], headers: Any, status: int) -> dict[str, Any] | None:
        """Record a POST; when taken (2xx), make its Message resource and return it."""
        resource = None
        if 200 <= status < 300:
            now = self.clock()
            stamp = format_datetime(now.astimezone(timezone.utc), usegmt=True)
            sid = "SM" + uuid.uuid4().hex
            service = form.get("MessagingServiceSid")
            resource = {
                "sid": sid, "account_sid": self.account_sid, "api_version": API_VERSION, "body": form.get("Body"),
                "to": form.get("To"), "from": form.get("From") or (self.pool_number if service else None),
                "messaging_service_sid": service, "direction": "outbound-api", "num_segments": "1",
                "num_media": "0", "status": "accepted" if service and not form.get("From") else "queued",
                "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
                "date_created": stamp, "date_updated": stamp, "date_sent": stamp, "_sent_on": now.date(),
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json", "subresource_uris": {},
            }
        with self._condition:
            if resource is not None:
                self.resources[resource["sid"]] = resource
            self.messages.append(ReceivedMessage(
                form.get("From"), form.get("To"), form.get("Body"), headers.get("Authorization"), status,
                time.monotonic(), resource["sid"] if resource else None, form.get("MessagingServiceSid"),
                form.get("StatusCallback")))
            self._condition.notify_all()
        return resource

    def _page(self, query: dict[str, str], path: str) -> dict[str, Any]:
        """The message list as Twilio answers it: filtered, newest first, one page."""
        with self._lock:
            self.lookups.append(dict(query))
            found = [dict(r) for r in reversed(list(self.resources.values())) if _matches(r, query)]  # newest first
        size = max(1, min(int(query.get("PageSize") or 50), 1000))
        page = max(0, int(query.get("Page") or 0))
        chunk = found[page * size:(page + 1) * size]
        base = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}

        def uri(number: int) -> str:
            return f"{path}?{urlencode({**base, 'PageSize': size, 'Page': number})}"

        more = (page + 1) * size < len(found)
        for record in chunk:
            record.pop("_sent_on", None)
        return {"messages": chunk, "start": page * size, "end": page * size + max(len(chunk) - 1, 0),
                "page": page, "page_size": size, "uri": uri(page), "first_page_uri": uri(0),
                "previous_page_uri": uri(page - 1) if page else None, "next_page_uri": uri(page + 1) if more else None}

    def _handler_class(self) -> type[JsonHandler]:
        fake = self

        class Handler(JsonHandler):
            def _collection(self) -> str | None:
                """Return the path if it is this account's Messages.json, else answer 401/404 and return None."""
                path = urlsplit(self.path).path
                if self.headers.get("Authorization") != fake.authorization:
                    self._answer(401, error_reply(20003, 401).body)
                    return None
                if path != f"/{API_VERSION}/Accounts/{fake.account_sid}/Messages.json":
                    self._answer(404, error_reply(20404, 404).body)
                    return None
                return path

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = self._collection()
                if path is not None:
                    query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}
                    self._answer(200, fake._page(query, path))

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self._collection() is None:
                    return
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
                if not form.get("To") or not (form.get("From") or form.get("MessagingServiceSid")):
                    fake._take(form, self.headers, 400)
                    self._answer(400, error_reply(21604 if not form.get("To") else 21603).body)
                    return
                reply = fake._next_reply({"to": form.get("To"), "from": form.get("From"), "text": form.get("Body"),
                                          "form": form})
                status = 201 if reply.status == 200 else reply.status  # a fake_telnyx.Reply() means "take it"
                # Taken (or refused) on arrival, as Twilio does; a slow answer only delays the response.
                resource = fake._take(form, self.headers, status)
                if getattr(reply, "drop", False):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if resource is not None:
                    body = {k: v for k, v in resource.items() if not k.startswith("_")}
                    body["date_sent"] = None  # not sent yet when Twilio answers
                elif body is None or "errors" in body:  # no body, or a Telnyx-shaped one: Twilio's shape
                    body = error_reply(20000 + status if status >= 400 else 20500, status).body
                if isinstance(body.get("message"), str):
                    body = {**body, "message": body["message"].replace("{to}", form.get("To") or "")}
                self._answer(status, body, reply.headers)

        return Handler


def _day(value: str) -> date:
    return date.fromisoformat(value[:10])


def _matches(resource: dict[str, Any], query: dict[str, str]) -> bool:
    """Say whether a Message resource passes the list's filters (To, From, DateSent on/before/after a day)."""
    if query.get("To") and resource["to"] != query["To"]:
        return False
    if query.get("From") and resource["from"] != query["From"]:
        return False
    sent_on = resource.get("_sent_on")
    for name, keep in (("DateSent", lambda day, limit: day == limit), ("DateSent<", lambda day, limit: day <= limit),
                       ("DateSent>", lambda day, limit: day >= limit)):
        if query.get(name):
            if sent_on is None or not keep(sent_on, _day(query[name])):
                return False
    return True


class TwilioSigner:
    """Sign webhooks with the account's auth token, as Twilio does, over the public URL it calls."""

    def __init__(self, auth_token: str = AUTH_TOKEN, public_base_url: str = PUBLIC_BASE_URL,
                 account_sid: str = ACCOUNT_SID) -> None:
        from twilio.request_validator import RequestValidator

        self.validator = RequestValidator(auth_token)
        self.public_base_url = public_base_url
        self.account_sid = account_sid

    def headers(self, path: str, form: dict[str, str]) -> dict[str, str]:
        """Return the X-Twilio-Signature (and content type) for posting ``form`` to ``path``."""
        signature = self.validator.compute_signature(self.public_base_url + path, form)
        return {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}

    def inbound(self, text: str, sender: str, to: str = "+13125550100", message_id: str | None = None) -> dict[str, str]:
        """Build the fields Twilio posts for an inbound SMS (OptOutType for its default keywords)."""
        sid = message_id or "SM" + uuid.uuid4().hex
        form = {"ToCountry": "US", "ToState": "IL", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "CHICAGO",
                "FromZip": "10001", "SmsSid": sid, "FromState": "NY", "SmsStatus": "received", "FromCity": "NEW YORK",
                "Body": text, "FromCountry": "US", "To": to, "ToZip": "60601", "NumSegments": "1",
                "MessageSid": sid, "AccountSid": self.account_sid, "From": sender, "ApiVersion": API_VERSION}
        word = text.strip().upper()
        for kind, keywords in OPT_OUT_KEYWORDS.items():
            if word in keywords:
                form["OptOutType"] = kind
        return form

    def post(self, client: Any, path: str, form: dict[str, str]) -> Any:
        """POST ``form`` to ``path`` through a Flask test client, signed."""
        return client.post(path, data=urlencode(form), headers=self.headers(path, form))

    def text_bot(self, client: Any, text: str, sender: str, message_id: str | None = None) -> tuple[dict[str, str], str]:
        """Text the bot through a signed /webhooks/twilio; return its outcome (the Bot-Outcome header) and the SID."""
        form = self.inbound(text, sender, message_id=message_id)
        response = self.post(client, "/webhooks/twilio", form)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/xml" and response.get_data(as_text=True).endswith("<Response/>")
        return {"status": response.headers["Bot-Outcome"]}, form["MessageSid"]

    def status(self, sid: str, message_status: str, to: str, error_code: str | None = None) -> dict[str, str]:
        """Build the fields of a status callback for an outbound message."""
        form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": message_status, "SmsStatus": message_status,
                "AccountSid": self.account_sid, "To": to, "From": "+13125550100", "ApiVersion": API_VERSION}
        if error_code is not None:
            form["ErrorCode"] = error_code
        return form
