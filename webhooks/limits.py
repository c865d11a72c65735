"""Request limits: per-client rates (Flask-Limiter, in memory or in Redis) and the body size.

Redis is an optimisation (counters shared by every instance), never a dependency: when it
does not answer, Flask-Limiter counts in this process's memory instead, logs one warning
("Rate limit storage unreachable - falling back to in-memory storage"), and goes back to
Redis once a ping answers again (it tries after 1, 2, 4 ... 32 s).
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint, Flask, Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage
from werkzeug.exceptions import RequestEntityTooLarge

from bot.settings import Settings
from webhooks.errors import error_response

# Guessing ids: a client that keeps asking for ids that do not exist is cut off early.
ID_MISS_LIMIT = "30/minute"
ID_ENDPOINTS = ("api.get_scheduled", "api.cancel_scheduled")  # the views that look an id up (registered first)
# A Redis that does not answer costs a request at most this long before the limiter falls back to memory.
REDIS_TIMEOUT_SECONDS = 1.0
MEMORY_SCHEME = "swept-memory"  # SweptMemoryStorage: the counters without REDIS_URL


def _is_miss(response: Response) -> bool:
    return response.status_code == 404


def _too_many_requests(limit: RequestLimit) -> Response:
    """Answer a breached limit with the JSON error and the seconds until it clears."""
    retry_after = max(1, limit.reset_at - int(time.time()))
    body, _ = error_response(429, "too_many_requests",  # type: ignore[misc]
                             f"Too many requests (at most {limit.limit}); try again in {retry_after} s.")
    body.status_code = 429
    body.headers["Retry-After"] = str(retry_after)
    return body


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory counters, with expired ones dropped by the requests instead of by a thread.

    ``MemoryStorage`` starts a ``threading.Timer`` (10 ms) on a counter change whenever the last one
    has run out, so under steady traffic it started a thread every few requests: 273 threads in
    2,000 webhooks, 11% of the request's time (profiled; limits 5.8). Counters already expire
    when read (``get``); the sweep only frees the memory of counters nobody reads any more, and
    once a second is often enough for that. This overrides the hook its counter changes call
    (``__schedule_expiry``, name-mangled); tests/test_webhook_limits.py fails if limits renames it.
    """

    STORAGE_SCHEME = [MEMORY_SCHEME]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._sweep_lock = threading.Lock()
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (the name MemoryStorage calls)
        if time.monotonic() < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = time.monotonic() + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._sweep_lock.release()


def init_rate_limits(app: Flask, settings: Settings, webhook: Blueprint, api: Blueprint | None) -> Limiter:
    """Limit the webhook and the API per client address; the health probes are exempt."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.redis_url or f"{MEMORY_SCHEME}://",
        storage_options={"socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                         "socket_timeout": REDIS_TIMEOUT_SECONDS} if settings.redis_url else {},
        # O(1) per hit; the moving window keeps every hit's timestamp (6% of an API request's time
        # in the profile) for a precision a per-client limit does not need.
        strategy="sliding-window-counter",
        # headers_enabled would put X-RateLimit-* and a Retry-After on every answer (a 200 or 201
        # "retry after 51 s" is nonsense) and cost a storage round trip each; only a 429 says when
        # to come back (_too_many_requests).
        headers_enabled=False,
        on_breach=_too_many_requests,
        in_memory_fallback_enabled=True,  # Redis down: count in memory, with the same limits
        # Redis going away between a request's check and its after-request deduction (the 404 limit)
        # must not turn that request into a 500; the next request falls back to memory.
        swallow_errors=True,
        key_prefix="reminder-bot",
    )
    limiter.limit(settings.rate_limit_webhook)(webhook)
    if api is not None:
        limiter.limit(settings.rate_limit_api)(api)
        # Only where an id is looked up: every other request would pay for a second limit (each
        # limit costs about a tenth of a POST /sms/schedule, profiled) that it can never deduct from.
        # One count for both, so that a guesser cannot double its tries by switching method.
        # (A decorated limit is checked by its wrapper, so the wrapper replaces the registered view;
        # override_defaults=False keeps RATE_LIMIT_API on them too.)
        misses = limiter.shared_limit(ID_MISS_LIMIT, scope="id-misses", deduct_when=_is_miss, override_defaults=False)
        for endpoint in ID_ENDPOINTS:
            app.view_functions[endpoint] = misses(app.view_functions[endpoint])
    return limiter


def shared_store_answers(limiter: Limiter) -> bool:
    """Say whether the limiter's storage (Redis) answers a ping now."""
    return bool(limiter.storage.check())


def read_body() -> bytes:
    """Return the request body; 413 when it is over MAX_BODY_BYTES, however it was sent.

    Werkzeug refuses a Content-Length over the limit, but a chunked body (no Content-Length) it
    reads up to the limit and returns cut there, silently: a signed webhook then failed its
    signature (401) and the API its JSON (400). Reading one byte more tells a cut body from a whole one.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None:
        return request.get_data(cache=True)
    request.max_content_length = limit + 1  # per request, as Flask 3.1 allows
    too_large = RequestEntityTooLarge(f"The body is larger than {limit} bytes (MAX_BODY_BYTES).")
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:  # a Content-Length over the limit
        raise too_large from exc
    if len(body) > limit:
        raise too_large
    return body
