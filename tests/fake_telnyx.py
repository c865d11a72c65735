"""A small fake of Telnyx's Messaging API: a real HTTP server on 127.0.0.1.

The real SDK talks to it through ``TELNYX_BASE_URL``. It records every request
(from, to, text, auth header, idempotency key) and can be scripted to answer
with errors (429 with Retry-After, 5xx, a slow answer, a permanent 4xx).

Idempotency-Key as Telnyx documents it: a key that was answered 2xx before is replayed
(200, the first answer's id, not sent again) when the body is byte-for-byte the same,
and refused with 422 when the body differs.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fake_server import FakeServer, JsonHandler, ProviderMessage, Reply


@dataclass(frozen=True)
class ReceivedMessage(ProviderMessage):
    """One POST /messages the fake accepted or refused."""

    idempotency_key: str | None
    status: int
    received_at: float
    replayed: bool = False  # an Idempotency-Key seen before: Telnyx does not send it again
    provider_id: str | None = None  # the data.id the fake answered with (for delivery-status webhooks)


class FakeTelnyx(FakeServer[ReceivedMessage]):
    """Start with ``start()``; ``url`` is the base URL for the SDK."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__(latency)
        self._accepted_keys: dict[str, tuple[bytes, str | None]] = {}  # key -> (raw body, provider id)

    def _taken(self, message: ReceivedMessage) -> bool:
        """Say whether Telnyx accepted the message (200) as a new send, not a replay of a key."""
        return message.status == 200 and not message.replayed

    def _default_reply(self) -> Reply:
        return Reply(200, delay=self.latency)

    def earlier_answer(self, key: str | None, raw: bytes) -> tuple[int, str | None] | None:
        """Return (200, its id) for a key accepted before with this body, (422, None) for another body."""
        with self._lock:
            if key is None or key not in self._accepted_keys:
                return None
            earlier_raw, provider_id = self._accepted_keys[key]
            return (200, provider_id) if earlier_raw == raw else (422, None)

    def _record(self, request: dict[str, Any], headers: Any, status: int, provider_id: str | None = None,
                raw: bytes = b"", replayed: bool = False) -> None:
        key = headers.get("Idempotency-Key")
        with self._condition:
            if status == 200 and key is not None and not replayed:
                self._accepted_keys[key] = (raw, provider_id)
            self.messages.append(ReceivedMessage(
                request.get("from"), request.get("to"), request.get("text"), headers.get("Authorization"),
                key, status, time.monotonic(), replayed, provider_id))
            self._condition.notify_all()

    def _handler_class(self) -> type[JsonHandler]:
        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:  # the sender died mid-request (a test kills it): nothing was sent
                    self.close_connection = True
                    return
                if self.path.rstrip("/") != "/messages":
                    self._answer(404, {"errors": [{"code": "10005", "title": "Resource not found"}]})
                    return
                try:
                    request = json.loads(raw or b"{}")
                except ValueError:
                    self._answer(400, {"errors": [{"code": "10015", "title": "Bad request"}]})
                    return
                earlier = fake.earlier_answer(self.headers.get("Idempotency-Key"), raw)
                if earlier is not None and earlier[0] == 422:
                    fake._record(request, self.headers, 422, raw=raw)
                    self._answer(422, {"errors": [{"code": "10015", "title": "Idempotency key conflict",
                                                   "detail": "The Idempotency-Key was already used with a "
                                                             "different request body."}]})
                    return
                reply = fake._next_reply(request) if earlier is None else Reply(200, delay=fake.latency)
                body = reply.body
                provider_id = str(uuid.uuid4()) if body is None and reply.status == 200 else None
                if earlier is not None:
                    provider_id = earlier[1]
                # Taken (or refused) on arrival, as Telnyx does; a slow answer only delays the response.
                fake._record(request, self.headers, reply.status, provider_id, raw, replayed=earlier is not None)
                if reply.delay:
                    time.sleep(reply.delay)
                if provider_id is not None:
                    body = {"data": {"id": provider_id, "record_type": "message", "text": request.get("text"),
                                     "to": [{"phone_number": request.get("to"), "status": "queued"}],
                                     "from": {"phone_number": request.get("from")}}}
                if body is None:
                    body = {"errors": [{"code": str(reply.status * 100), "title": "scripted error"}]}
                self._answer(reply.status, body, reply.headers)

        return Handler
