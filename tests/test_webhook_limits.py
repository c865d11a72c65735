"""The per-client rate limits (``webhooks.limits``): which requests count, and their counters.

Without REDIS_URL every request counts in memory. limits' own MemoryStorage started a timer
thread every few requests to drop expired counters; ours drops them from the requests, once a
second, and must count exactly as it did. Redis going away and coming back is here too (through a
TCP proxy the test cuts); the first warning of an outage is in tests/test_outages.py.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from limits import parse
from limits.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from tests.conftest import ALICE, local_redis, post_signed, wait_until
from tests.signing import message_received
from tests.tcp_proxy import TcpProxy
from tests.web_support import web_config
from web import SIGN_IN_LIMIT
from webhooks.limits import KEY_PREFIX, MEMORY_SCHEME, RequestLimits, SweptMemoryStorage

TOKEN = "test-api-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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


# --- which requests count ---------------------------------------------------------------------

def test_sign_in_forms_are_limited_on_post_only(app_factory):
    app = app_factory(RUN_DISPATCHER=False, **web_config())
    client = app.test_client()
    allowed = int(SIGN_IN_LIMIT.split("/")[0])
    # No CSRF token: each POST is refused by the form (400) until the limit refuses it first (429).
    for path in ("/admin/sign-in", "/w/some-token"):  # each form has a count of its own
        codes = [client.post(path, data={"token": "guess"}).status_code for _ in range(allowed + 2)]
        # The sliding window may let one more through when the requests straddle a minute.
        assert 429 not in codes[:allowed] and codes[-1] == 429, (path, codes)
    assert client.get("/admin").status_code != 429  # reading a page is not limited
    assert client.get("/healthz").status_code == 200


def test_a_limit_of_several_windows_answers_with_the_one_breached(app_factory, signer):
    client = app_factory(RUN_DISPATCHER=False, RATE_LIMIT_WEBHOOK="100/hour;2/day").test_client()
    codes = [post_signed(client, signer, message_received("list", ALICE)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = post_signed(client, signer, message_received("list", ALICE))
    assert "at most 2 per 1 day" in refused.get_json()["error"]["message"]
    # The day's window (UTC days, as the limits library counts them) frees up at the next midnight
    # UTC, never sooner; the hour's would free up within the hour (from 23:00 the two coincide).
    to_midnight = 86400 - time.time() % 86400
    assert to_midnight - 5 <= int(refused.headers["Retry-After"]) <= 86400


def test_each_endpoint_counts_on_its_own(app_factory):
    client = app_factory(RUN_DISPATCHER=False, API_TOKEN=TOKEN, RATE_LIMIT_API="1/hour").test_client()
    assert client.get("/sms/scheduled", headers=AUTH).status_code == 200
    assert client.get("/sms/scheduled", headers=AUTH).status_code == 429
    assert client.get("/sms/scheduled/abc123", headers=AUTH).status_code == 404  # another endpoint: its own count


# --- Redis away and back ------------------------------------------------------------------------

def _redis_keys(connection: redis.Redis) -> int:
    return sum(1 for _ in connection.scan_iter(f"*{KEY_PREFIX}*"))


def test_counting_goes_back_to_redis_once_it_answers_again(app_factory, signer, caplog):
    connection = local_redis(14)
    caplog.set_level(logging.INFO, logger="webhooks.limits")
    with TcpProxy(target_port=6379) as proxy:
        app = app_factory(REDIS_URL=f"redis://127.0.0.1:{proxy.port}/14", RATE_LIMIT_WEBHOOK="1000/hour",
                          RUN_DISPATCHER=False)
        client = app.test_client()
        assert post_signed(client, signer, message_received("list", ALICE)).status_code == 200
        assert _redis_keys(connection) > 0  # counted in Redis
        connection.flushdb()
        proxy.cut()
        assert post_signed(client, signer, message_received("list", ALICE)).status_code == 200
        assert _redis_keys(connection) == 0  # counted in memory meanwhile
        proxy.restore()
        # Redis is asked again after 1, 2, 4 ... s; each request meanwhile counts in memory.
        assert wait_until(lambda: post_signed(client, signer, message_received("list", ALICE)).status_code == 200
                          and _redis_keys(connection) > 0, timeout=15, interval=0.2)
    messages = [record.getMessage() for record in caplog.records if record.name == "webhooks.limits"]
    assert messages == ["Rate limit storage unreachable - falling back to in-memory storage",
                        "Rate limit storage recovered"]
    connection.flushdb()


def test_a_breach_while_redis_is_away_still_answers_429_with_retry_after():
    limits = RequestLimits("redis://127.0.0.1:1/0")  # nothing listens on port 1
    from limits import parse

    item = parse("2/hour")
    assert [limits._count("hit", item, "client", "endpoint") for _ in range(3)] == [True, True, False]
    assert limits.shared_store_answers() is False
