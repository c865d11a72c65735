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
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass(frozen=True)
class ReceivedMessage:
    """One POST /messages the fake accepted or refused."""

    from_number: str | None
    to: str | None
    text: str | None
    authorization: str | None
    idempotency_key: str | None
    status: int
    received_at: float
    replayed: bool = False  # an Idempotency-Key seen before: Telnyx does not send it again
    provider_id: str | None = None  # the data.id the fake answered with (for delivery-status webhooks)


@dataclass
class Reply:
    """A scripted answer: status, headers, JSON body, and a delay before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay: float = 0.0


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 refuses connections under a benchmark's burst.
    request_queue_size = 1024


class FakeTelnyx:
    """Start with ``start()``; ``url`` is the base URL for the SDK."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.messages: list[ReceivedMessage] = []
        self.script: deque[Reply] = deque()
        self.rule: Callable[[dict[str, Any]], Reply | None] | None = None
        self._accepted_keys: dict[str, tuple[bytes, str | None]] = {}  # key -> (raw body, provider id)
        self._lock = threading.RLock()  # predicates passed to wait_for may call delivered()
        self._condition = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeTelnyx":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def push(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then normally."""
        with self._lock:
            self.script.extend(replies)

    def delivered(self, to: str | None = None) -> list[ReceivedMessage]:
        """Return the accepted messages (status 200), optionally only those to ``to``."""
        with self._lock:
            return [m for m in self.messages if self._accepted(m) and (to is None or m.to == to)]

    @staticmethod
    def _accepted(message: ReceivedMessage) -> bool:
        return message.status == 200 and not message.replayed

    def wait_for(self, predicate: Callable[[list[ReceivedMessage]], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(accepted messages)`` holds, or the timeout passes."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                accepted = [m for m in self.messages if self._accepted(m)]
                if predicate(accepted):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)

    def _next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            if self.script:
                return self.script.popleft()
        if self.rule is not None:
            ruled = self.rule(request)
            if ruled is not None:
                return ruled
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

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the client's delayed ACK holds
            # the body back ~40 ms, which would make every fake send slower than Telnyx's.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
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

            def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a scripted timeout)

        return Handler
