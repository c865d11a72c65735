"""What the provider fakes share: a real threaded HTTP server on 127.0.0.1, a script of replies, a wait.

tests/fake_telnyx.py and tests/fake_twilio.py subclass ``FakeServer`` and say only what is their
provider's: the request handler (``_handler_class``, on ``JsonHandler``), its record of a message (on
``ProviderMessage``), which messages the provider took (``_taken``) and the answer when nothing is
scripted (``_default_reply``, a ``Reply``).
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Generic, Self, TypeVar


@dataclass(frozen=True)
class ProviderMessage:
    """What every fake records of a message sent to it; each adds its provider's fields after these."""

    from_number: str | None
    to: str | None
    text: str | None
    authorization: str | None


@dataclass
class Reply:
    """A scripted answer: status, headers, JSON body (the provider's own when None), and a delay before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay: float = 0.0


Message = TypeVar("Message", bound=ProviderMessage)  # a fake's record of each message it received


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 refuses connections under a benchmark's burst.
    request_queue_size = 1024


class JsonHandler(BaseHTTPRequestHandler):
    """Answer JSON over HTTP/1.1, quietly (no request log)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK holds
    # the body back ~40 ms, which would make every fake send slower than the provider's.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
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


class FakeServer(ABC, Generic[Message]):
    """Start with ``start()``; ``url`` is the base URL for the SDK.

    Handlers record into ``messages`` under ``_condition`` and notify it, so that ``wait_for`` wakes.
    """

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency  # the delay of every unscripted answer
        self.messages: list[Message] = []
        self.script: deque[Any] = deque()
        self.rule: Callable[[dict[str, Any]], Any] | None = None  # answers when the script is empty, or None
        self._lock = threading.RLock()  # predicates passed to wait_for may call delivered()
        self._condition = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def push(self, *replies: Any) -> None:
        """Answer the next messages sent with these replies, in order, then normally."""
        with self._lock:
            self.script.extend(replies)

    def delivered(self, to: str | None = None) -> list[Message]:
        """Return the messages the provider took, optionally only those to ``to``."""
        with self._lock:
            return [m for m in self.messages if self._taken(m) and (to is None or m.to == to)]

    def wait_for(self, predicate: Callable[[list[Message]], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(messages taken)`` holds, or the timeout passes."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate(self.delivered()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True

    def _next_reply(self, request: dict[str, Any]) -> Any:
        """Take the next scripted reply, else ask the rule, else answer normally."""
        with self._lock:
            if self.script:
                return self.script.popleft()
        if self.rule is not None:
            ruled = self.rule(request)
            if ruled is not None:
                return ruled
        return self._default_reply()

    @abstractmethod
    def _handler_class(self) -> type[JsonHandler]:
        """Return the request handler, bound to this fake."""

    @abstractmethod
    def _taken(self, message: Message) -> bool:
        """Say whether the provider took this message (it counts as delivered)."""

    @abstractmethod
    def _default_reply(self) -> Any:
        """Return the answer when neither the script nor the rule gives one."""
