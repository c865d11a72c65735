"""One outbound budget per account: every process takes its send slots from one store.

The budget runs on an injected clock (no sleeping, exact instants) against each real store: a SQLite
file, a PostgreSQL database and Redis. Then real dispatcher processes on PostgreSQL send through the
fake Telnyx, which counts what arrives in every one-second window.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from bot.delivery.budget import SharedBudget, budget_name, make_outbound_limit
from bot.delivery.budget_store import BudgetStore, DatabaseBudgetStore, RedisBudgetStore
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.ratelimit import TokenBucket
from bot.delivery.transport import ConsoleTransport
from bot.settings import load_settings
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from tests.conftest import wait_until
from tests.fake_telnyx import FakeTelnyx
from tests.providers import sending_settings
from tests.tcp_proxy import TcpProxy
from tests.test_concurrent_dispatch import _assert_each_sent_once, _insert_due

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/0"
RATE = 10.0  # slots 0.1 s apart: easy to read


class ManualClock:
    """Seconds since the epoch that move only when the budget waits, to the instant it waits for.

    Several threads may wait at once: each wait moves time from what that thread last read, never
    back, so one thread's wait does not add to another's.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.start = self.now = start
        self.before_wait: Callable[[], None] = lambda: None  # a test's hook, run as a thread starts to wait
        self._lock = threading.Lock()
        self._reading = threading.local()

    def __call__(self) -> float:
        with self._lock:
            self._reading.value = self.now
            return self.now

    def wait(self, seconds: float, stop: threading.Event | None) -> bool:
        if stop is not None and stop.is_set():
            return True
        self.before_wait()
        with self._lock:
            self.now = max(self.now, self._reading.value + seconds)
        return False

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def since_start(self) -> float:
        return round(self.now - self.start, 6)


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], BudgetStore]]:
    """Make stores of one account's budget, each with connections of its own, as separate processes have."""
    name = f"test:{uuid.uuid4().hex}"
    made: list[BudgetStore] = []
    engines = []
    context = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'budget.db'}"
    elif request.param == "postgresql":
        from tests.databases import postgres_database

        context = postgres_database()
        url = context.__enter__()
    if request.param in ("sqlite", "postgresql"):
        engine = make_engine(url)
        upgrade_database(engine)
        engine.dispose()

    def make() -> BudgetStore:
        if request.param == "redis":
            store: BudgetStore = RedisBudgetStore(REDIS_URL, name)
        else:
            engines.append(make_engine(url))
            store = DatabaseBudgetStore(make_session_factory(engines[-1]), name)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    for engine in engines:
        engine.dispose()
    if request.param == "redis":
        redis.Redis.from_url(REDIS_URL).delete(f"outbound-budget:{name}")
    if context is not None:
        context.__exit__(None, None, None)


def _budget(store: BudgetStore, clock: ManualClock, **options) -> SharedBudget:
    return SharedBudget(store, RATE, clock=clock, wait=clock.wait, **options)


def _take(budget: SharedBudget, clock: ManualClock) -> float:
    assert budget.acquire()
    return clock.since_start()


def _most_in_one_second(instants: list[float]) -> int:
    """The most instants in any window [t, t + 1 s)."""
    ordered = sorted(instants)
    most, first = 0, 0
    for last, instant in enumerate(ordered):
        while instant - ordered[first] >= 1.0 - 1e-9:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_processes_sharing_a_store_take_turns_at_the_rate(make_store):
    clock = ManualClock()
    first, second = _budget(make_store(), clock), _budget(make_store(), clock)
    granted = [_take(budget, clock) for _ in range(20) for budget in (first, second)]
    # Each process alone would have gone at once; together they keep to one account's rate.
    assert granted == pytest.approx([n / RATE for n in range(40)], abs=1e-6)
    assert _most_in_one_second(granted) == RATE
    assert first.round_trips == second.round_trips == 20  # one sender at a time: one slot per round trip


def test_an_idle_spell_saves_up_nothing(make_store):
    clock = ManualClock()
    budget = _budget(make_store(), clock)
    _take(budget, clock)
    clock.advance(60)  # a quiet minute
    assert [_take(budget, clock) for _ in range(3)] == pytest.approx([60.0, 60.1, 60.2], abs=1e-6)


def test_a_pause_in_one_process_holds_back_the_others(make_store):
    clock = ManualClock()
    throttled, other = _budget(make_store(), clock), _budget(make_store(), clock)
    _take(throttled, clock)
    throttled.pause(1.5)  # a 429 with Retry-After: 1.5
    throttled.pause(0.5)  # a shorter one does not cut it short
    # The other process learns of it through the store: its next send waits for the pause's end,
    # and the sends after it keep to the rate (no burst at the end of the pause).
    assert [_take(other, clock) for _ in range(3)] == pytest.approx([1.5, 1.6, 1.7], abs=1e-6)
    assert _take(throttled, clock) == pytest.approx(1.8, abs=1e-6)


def test_a_sender_that_wakes_well_after_its_slot_takes_another(make_store):
    clock = ManualClock()
    overslept = []

    def oversleep(seconds: float, stop: threading.Event | None) -> bool:  # a busy host wakes it 0.3 s late
        overslept.append(seconds)
        return clock.wait(seconds + 0.3, stop)

    budget = SharedBudget(make_store(), RATE, clock=clock, wait=oversleep)
    assert _take(budget, clock) == pytest.approx(0.0, abs=1e-6)
    # Its slot was 0.1; woken at 0.4 it would go beside the slots of 0.4. It takes the next free one instead.
    assert _take(budget, clock) == pytest.approx(0.4, abs=1e-6)
    assert budget.dropped == 1 and overslept == pytest.approx([0.1])
    assert _take(budget, clock) == pytest.approx(0.8, abs=1e-6)  # the same again: 0.5, woken at 0.8, lapses
    assert budget.dropped == 2


class GatedStore:
    """A real store whose first round trip waits for the test's go-ahead; records each one's size."""

    def __init__(self, store: BudgetStore) -> None:
        self.store = store
        self.description = store.description
        self.counts: list[int] = []
        self.first_entered = threading.Event()
        self.go = threading.Event()

    def reserve(self, count: int, interval: float, not_before: float) -> float:
        self.counts.append(count)
        if len(self.counts) == 1:
            self.first_entered.set()
            assert self.go.wait(timeout=10)
        return self.store.reserve(count, interval, not_before)

    def close(self) -> None:
        self.store.close()


def test_one_round_trip_takes_a_slot_for_every_waiting_sender_and_unused_ones_lapse(make_store):
    clock = ManualClock()
    rate = 20  # slots 0.05 s apart; up to ten (half a second's worth) in one round trip
    SharedBudget(make_store(), rate, clock=clock, wait=clock.wait).acquire()  # another process went at 0
    store = GatedStore(make_store())
    # Eight threads moving one clock wake "late" by each other's waits: allow it, this test is about batches.
    budget = SharedBudget(store, rate, clock=clock, wait=clock.wait, late_slot_seconds=1.0)
    second_round_trip = threading.Event()
    # The first sender waits for its slot until the second round trip is on its way, so it is still
    # one of the senders that round trip counts.
    clock.before_wait = lambda: second_round_trip.wait(timeout=10) if threading.current_thread().name == "s0" else None
    senders = [threading.Thread(target=budget.acquire, name=f"s{n}") for n in range(8)]
    senders[0].start()
    assert store.first_entered.wait(timeout=10)  # its round trip counted one sender: itself
    for sender in senders[1:]:
        sender.start()
    assert wait_until(lambda: budget.senders_waiting == 8)
    store.go.set()
    assert wait_until(lambda: len(store.counts) == 2)
    second_round_trip.set()
    for sender in senders:
        sender.join(timeout=10)
        assert not sender.is_alive()
    assert store.counts == [1, 8] and budget.round_trips == 2  # eight sends, two round trips
    assert clock.since_start() == pytest.approx(0.4, abs=1e-6)  # slots 0.05 .. 0.4 were used
    # Slot 0.45 went unused. A minute later it is not spent at once beside a fresh one: it lapsed.
    clock.advance(60)
    assert _take(budget, clock) == pytest.approx(60.4, abs=1e-6)
    assert budget.dropped == 1


def test_while_the_store_is_away_each_process_sends_its_share_and_says_so_once(caplog):
    proxy = TcpProxy(target_port=6379).start()
    name = f"test:{uuid.uuid4().hex}"
    store = RedisBudgetStore(f"redis://127.0.0.1:{proxy.port}/0", name)
    clock = ManualClock()
    budget = SharedBudget(store, RATE, processes=4, clock=clock, wait=clock.wait, retry_store_seconds=5)
    try:
        assert [_take(budget, clock) for _ in range(2)] == pytest.approx([0.0, 0.1], abs=1e-6)
        proxy.cut()
        with caplog.at_level(logging.INFO, logger="bot.delivery.budget"):
            away = [_take(budget, clock) for _ in range(20)]
            # A quarter of the rate: four processes on their own still keep to the account's rate.
            # (The local bucket adds floating-point seconds near 1.8e9: a microsecond of rounding or so.)
            assert away[1:] == pytest.approx([away[0] + n / (RATE / 4) for n in range(1, 20)], abs=1e-5)
            proxy.restore()
            clock.advance(5)  # the next try of the store
            back = [_take(budget, clock) for _ in range(3)]
        assert back[1:] == pytest.approx([back[0] + 0.1, back[0] + 0.2], abs=1e-6)  # the shared rate again
        ours = [r for r in caplog.records if r.name == "bot.delivery.budget"]
        warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "Redis did not answer" in warnings[0] and "2.5/s" in warnings[0]
        assert [r.getMessage() for r in ours if r.levelno == logging.INFO] == [
            "outbound budget: Redis answers again; sending on the shared budget"]
    finally:
        store.close()
        proxy.stop()
        redis.Redis.from_url(REDIS_URL).delete(f"outbound-budget:{name}")


def test_a_database_without_the_budget_table_falls_back_to_the_share(tmp_path, caplog):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")  # never migrated: no outbound_budgets table
    clock = ManualClock()
    budget = SharedBudget(DatabaseBudgetStore(make_session_factory(engine), "t"), RATE, processes=2,
                          clock=clock, wait=clock.wait)
    with caplog.at_level(logging.WARNING, logger="bot.delivery.budget"):
        assert [_take(budget, clock) for _ in range(3)] == pytest.approx([0.0, 0.2, 0.4], abs=1e-6)
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bot.delivery.budget"]
    assert "the database did not answer (OperationalError)" in warning
    engine.dispose()


def test_stop_ends_the_wait_for_a_slot(make_store):
    clock = ManualClock()
    budget = _budget(make_store(), clock)
    stop = threading.Event()
    assert budget.acquire(stop)
    stop.set()
    assert not budget.acquire(stop)


@pytest.mark.parametrize("redis_url, kind", [(None, DatabaseBudgetStore), (REDIS_URL, RedisBudgetStore)],
                         ids=["database", "redis"])
def test_the_dispatcher_shares_the_account_budget_through_redis_when_configured(tmp_path, redis_url, kind):
    settings = load_settings(overrides={"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "REDIS_URL": redis_url,
                                        "OUTBOUND_RATE_PER_SECOND": 20, "TELNYX_API_KEY": "KEY_SECRET_123",
                                        "TELNYX_PHONE_NUMBER": "+13125550100"})
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(make_session_factory(engine), ConsoleTransport(), settings)
    try:
        assert isinstance(dispatcher.rate, SharedBudget) and isinstance(dispatcher.rate.store, kind)
        assert dispatcher.rate.rate == 20 and dispatcher.rate.fallback.rate == 10  # 2 processes by default
        assert budget_name(settings).startswith("telnyx:") and "KEY_SECRET" not in budget_name(settings)
    finally:
        dispatcher.stop()
        engine.dispose()


TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2, "TWILIO_AUTH_TOKEN": "secret-token-0123",
          "TWILIO_PHONE_NUMBER": "+13125550100"}


@pytest.mark.parametrize("overrides, expected", [
    ({"TELNYX_API_KEY": "KEY_ONE", "TELNYX_PHONE_NUMBER": "+13125550100"}, "telnyx:"),
    (TWILIO, "twilio:"),
    ({}, "console"),
], ids=["telnyx", "twilio", "console"])
def test_each_account_has_a_budget_of_its_own(overrides, expected):
    name = budget_name(load_settings(overrides=overrides))
    assert name.startswith(expected) and len(name) <= 64
    assert not any(secret in name for secret in ("KEY_ONE", TWILIO["TWILIO_ACCOUNT_SID"], "secret-token"))
    if overrides:  # another key of the same provider is another account
        other = {key: value.replace("ONE", "TWO").replace("0123", "4567") for key, value in overrides.items()}
        assert budget_name(load_settings(overrides=other)) != name


def test_without_a_rate_nothing_is_shared(tmp_path):
    settings = load_settings(overrides={"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "OUTBOUND_RATE_PER_SECOND": 0})
    limit = make_outbound_limit(settings, make_session_factory(make_engine(settings.database_url)))
    assert isinstance(limit, TokenBucket) and limit.rate == 0


# --- several dispatcher processes on one PostgreSQL database ------------------------------------

BUDGET = 50
SENDS = 150  # at 50/s, 3 s; four unshared budgets would send all 150 within a second


def _worker(url: str, fake: FakeTelnyx, redis_url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.dispatch_worker", url, fake.url, "30", "1.5", str(BUDGET), redis_url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("redis_url", ["", REDIS_URL], ids=["database", "redis"])
def test_dispatcher_processes_keep_to_one_budget_between_them(pg_url, fake_telnyx, redis_url):
    if redis_url:  # the workers' account is the same in every run: start from a fresh budget
        workers_account = budget_name(load_settings(overrides=sending_settings("telnyx", fake_telnyx.url)))
        redis.Redis.from_url(redis_url).delete(f"outbound-budget:{workers_account}")
    ids = _insert_due(pg_url, SENDS, due_in=3.0)  # all due at once, after every worker is up
    workers = [_worker(pg_url, fake_telnyx, redis_url) for _ in range(4)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    for worker in workers:
        worker.wait(timeout=120)
        assert worker.returncode == 0, worker.stderr.read()
    _assert_each_sent_once(fake_telnyx, pg_url, ids)
    arrived = sorted(m.received_at for m in fake_telnyx.messages)  # every request, replays too
    # Four processes that each kept to 50/s would have sent all 150 within a second; one budget
    # spreads them over 3 s. The instants are stamped by the fake in this (loaded) process, so a
    # window can gain a few from scheduling jitter: the bound (at most 55 in any second) is
    # measured without that noise by bench/bench_budget.py, as is how close to the budget they drain.
    assert _most_in_one_second(arrived) <= BUDGET * 1.5
    assert arrived[-1] - arrived[0] >= (SENDS - 1) / BUDGET - 0.5  # no faster than the one budget allows
