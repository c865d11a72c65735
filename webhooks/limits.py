"""Request limits: per-client rates (the ``limits`` library, in memory or in Redis) and the body size.

Redis is an optimisation (counters shared by every instance), never a dependency: when it
does not answer, the requests count in this process's memory instead, one warning is logged
("Rate limit storage unreachable - falling back to in-memory storage"), and the counting goes
back to Redis once a ping answers again (tried after 1, 2, 4 ... 32 s).

The counting is ``limits``' own (its sliding-window counter and storages); the Flask side is
this module's ``RequestLimits``, a before-request hook with a table of which blueprint has which
limit. It replaced Flask-Limiter, which worked out on every request which of its limits applied
(decorators, defaults, exemptions, blueprints): about 0.07 ms of a 0.52 ms POST /sms/schedule in
process, and 51% against 62-66% of the floor under gunicorn on SQLite (bench/README-http.md).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Iterable

from flask import Flask, Response, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import RateLimiter, SlidingWindowCounterRateLimiter
from werkzeug.exceptions import RequestEntityTooLarge

from bot.settings import Settings
from webhooks.errors import error_response

log = logging.getLogger(__name__)

# Guessing ids: a client that keeps asking for ids that do not exist is cut off early.
ID_MISS_LIMIT = "30/minute"
ID_ENDPOINTS = ("api.get_scheduled", "api.cancel_scheduled")  # the views that look an id up
ID_MISS_SCOPE = "id-misses"  # one count for both: a guesser cannot double its tries by switching method
# A Redis that does not answer costs a request at most this long before the counting falls back to memory.
REDIS_TIMEOUT_SECONDS = 1.0
MEMORY_SCHEME = "swept-memory"  # SweptMemoryStorage: the counters without REDIS_URL
KEY_PREFIX = "reminder-bot"
LONGEST_RECHECK_SECONDS = 32  # Redis away: ask again after 1, 2, 4 ... this many seconds


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


@dataclass(frozen=True)
class _Rule:
    """Limits counted per client address and endpoint on one blueprint's requests (all methods, or ``methods``)."""

    items: tuple[RateLimitItem, ...]
    methods: frozenset[str] | None


class RequestLimits:
    """Per-client request limits, checked before a limited blueprint's views run.

    Each limit counts per client address and endpoint, so a client's listing does not use up its
    scheduling. A breach answers 429 in the JSON error shape, with the seconds until the window lets
    the client in again as ``Retry-After``; nothing else carries rate-limit headers (a 201 saying
    "retry after 51 s" would be nonsense). Without REDIS_URL the counters are this process's.
    """

    def __init__(self, redis_url: str | None) -> None:
        if redis_url:
            options = {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS}
            self.storage: Storage = storage_from_string(redis_url, **options)
            self._memory: RateLimiter | None = SlidingWindowCounterRateLimiter(SweptMemoryStorage())
        else:
            self.storage = SweptMemoryStorage()
            self._memory = None
        # The sliding-window counter is O(1) per hit; a moving window keeps every hit's timestamp
        # for a precision a per-client limit does not need.
        self._shared: RateLimiter = SlidingWindowCounterRateLimiter(self.storage)
        self._rules: dict[str, _Rule] = {}
        self._id_misses: RateLimitItem | None = None
        self._state = threading.Lock()
        self._away = False  # Redis did not answer: counting in memory until it does
        self._rechecks = 0
        self._next_recheck = 0.0

    # --- configuration --------------------------------------------------------------------

    def install(self, app: Flask) -> None:
        """Check the limits before every request (the probes and unlimited blueprints pass at once)."""
        app.before_request(self._before)
        app.after_request(self._after)

    def limit(self, blueprints: Iterable[str], limit: str, methods: Iterable[str] | None = None) -> None:
        """Limit every endpoint of ``blueprints`` (by name) to ``limit`` per client, for ``methods`` or all."""
        rule = _Rule(tuple(parse_many(limit)), frozenset(methods) if methods is not None else None)
        for name in blueprints:
            self._rules[name] = rule

    def limit_id_misses(self, limit: str) -> None:
        """Count the 404s of ``ID_ENDPOINTS`` per client, together; refuse those endpoints over ``limit``.

        Only the views that look an id up pay for it: every other request would pay for a count it
        can never add to.
        """
        (self._id_misses,) = parse_many(limit)

    # --- per request ----------------------------------------------------------------------

    def _before(self) -> Response | None:
        rule = self._rules.get(request.blueprint or "")
        if rule is None or (rule.methods is not None and request.method not in rule.methods):
            return None
        client, endpoint = request.remote_addr or "127.0.0.1", request.endpoint or ""
        for item in rule.items:  # the first breach answers (the ones before it have counted this request)
            if not self._count("hit", item, client, endpoint):
                return self._too_many(item, client, endpoint)
        if self._id_misses is not None and endpoint in ID_ENDPOINTS:
            if not self._count("test", self._id_misses, client, ID_MISS_SCOPE):
                return self._too_many(self._id_misses, client, ID_MISS_SCOPE)
        return None

    def _after(self, response: Response) -> Response:
        if response.status_code == 404 and self._id_misses is not None and request.endpoint in ID_ENDPOINTS:
            self._count("hit", self._id_misses, request.remote_addr or "127.0.0.1", ID_MISS_SCOPE)
        return response

    def _too_many(self, item: RateLimitItem, *identifiers: str) -> Response:
        reset_at = self._window_reset(item, *identifiers)
        retry_after = max(1, int(reset_at - time.time())) if reset_at else 1
        body, _ = error_response(429, "too_many_requests",  # type: ignore[misc]
                                 f"Too many requests (at most {item}); try again in {retry_after} s.")
        body.status_code = 429
        body.headers["Retry-After"] = str(retry_after)
        return body

    # --- counting, with the fall back to memory -------------------------------------------

    def _count(self, method: str, item: RateLimitItem, *identifiers: str) -> bool:
        """``hit`` (count the request) or ``test`` (would it pass?); True when the counters fail twice."""
        strategy = self._strategy()
        try:
            return getattr(strategy, method)(item, KEY_PREFIX, *identifiers)
        except Exception:  # noqa: BLE001 (a Redis client raises its own errors, and more than one kind)
            if strategy is self._memory or self._memory is None:
                log.exception("the rate-limit counters failed; the request is let through")
                return True
            self._fall_back()
            return getattr(self._memory, method)(item, KEY_PREFIX, *identifiers)

    def _window_reset(self, item: RateLimitItem, *identifiers: str) -> float | None:
        try:
            return self._strategy().get_window_stats(item, KEY_PREFIX, *identifiers).reset_time
        except Exception:  # noqa: BLE001 (only the Retry-After is lost: the 429 stands)
            return None

    def _strategy(self) -> RateLimiter:
        if not self._away:
            return self._shared
        assert self._memory is not None
        if time.monotonic() < self._next_recheck or not self._state.acquire(blocking=False):
            return self._memory
        try:  # one thread asks Redis; the others go on counting in memory meanwhile
            if self.storage.check():
                log.info("Rate limit storage recovered")
                self._away = False
                return self._shared
            self._rechecks = min(self._rechecks + 1, LONGEST_RECHECK_SECONDS.bit_length() - 1)
            self._next_recheck = time.monotonic() + 2 ** self._rechecks
            return self._memory
        finally:
            self._state.release()

    def _fall_back(self) -> None:
        with self._state:
            if not self._away:  # once per outage, however many requests saw it
                log.warning("Rate limit storage unreachable - falling back to in-memory storage")
                self._away, self._rechecks = True, 0
                self._next_recheck = time.monotonic() + 1

    def shared_store_answers(self) -> bool:
        """Say whether the counters' storage (Redis) answers a ping now."""
        try:
            return bool(self.storage.check())
        except Exception:  # noqa: BLE001 (check() says False on its own; a broken client says it this way)
            return False


def init_rate_limits(app: Flask, settings: Settings, webhooks: Iterable[str], api: str) -> RequestLimits:
    """Limit the webhooks and the API (blueprint names) per client address; the probes are exempt."""
    limits = RequestLimits(settings.redis_url)
    limits.limit(webhooks, settings.rate_limit_webhook)
    limits.limit([api], settings.rate_limit_api)
    limits.limit_id_misses(ID_MISS_LIMIT)
    limits.install(app)
    return limits


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
