"""The per-client rate limits' in-memory counters (``webhooks.limits.SweptMemoryStorage``).

Without REDIS_URL every request counts in memory. limits' own MemoryStorage started a timer
thread every few requests to drop expired counters; ours drops them from the requests, once a
second, and must count exactly as it did. (Redis, and the fall back to memory when it does not
answer, are in tests/test_outages.py.)
"""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from webhooks.limits import MEMORY_SCHEME, SweptMemoryStorage


def _storage() -> SweptMemoryStorage:
    storage = storage_from_string(f"{MEMORY_SCHEME}://")
    assert isinstance(storage, SweptMemoryStorage)
    storage.timer.join()  # the one timer MemoryStorage starts when it is made
    return storage


def test_counting_starts_no_thread():
    storage = _storage()
    limiter = SlidingWindowCounterRateLimiter(storage)
    limit = parse("1000000/minute")
    deadline = time.monotonic() + 0.1  # ten of MemoryStorage's 10 ms timer periods
    hits = 0
    while time.monotonic() < deadline:
        assert limiter.hit(limit, "client", f"key-{hits % 7}")
        hits += 1
        assert not storage.timer.is_alive(), f"a timer thread was started after {hits} hits"
    assert not any(isinstance(thread, threading.Timer) and thread.is_alive() for thread in threading.enumerate())


def test_it_counts_as_limits_memory_storage_does():
    limiter = SlidingWindowCounterRateLimiter(_storage())
    limit = parse("3/minute")
    assert [limiter.hit(limit, "client") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "another client")  # every client has a count of its own
    limiter.clear(limit, "client")
    assert limiter.hit(limit, "client")


def test_counters_that_expired_are_dropped_without_being_read():
    storage = _storage()
    storage.incr("gone", expiry=0.01)
    deadline = time.monotonic() + SweptMemoryStorage.SWEEP_SECONDS + 2
    while "gone" in storage.storage and time.monotonic() < deadline:
        storage.incr("busy", expiry=60)  # another client's requests do the sweeping
        threading.Event().wait(0.01)
    assert "gone" not in storage.storage
    assert storage.get("busy") > 0


def test_the_app_counts_in_it_without_redis(app_factory):
    app = app_factory(RUN_DISPATCHER=False)
    assert isinstance(app.extensions["rate_limiter"].storage, SweptMemoryStorage)
