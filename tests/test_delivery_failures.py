"""Provider failures: retried with backoff (honouring Retry-After), or failed at once; the owner is told.

Each test with a fake runs for Telnyx and for Twilio (``@both_providers``).

And the outbound rate: the per-instance limit holds, and a 429 holds back every send, not just its own.
The dispatcher and its token bucket run on one virtual time, so these tests read when the limiter let
each send go (what it decided), not when requests happened to reach the fake, and waiting out a
Retry-After or a backoff costs no real time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.delivery.dispatcher import Dispatcher, next_due_at
from bot.delivery.ratelimit import TokenBucket
from bot.delivery.transport import ConsoleTransport, SendResult, Transport
from bot.settings import load_settings
from bot.storage import lifecycle
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.storage.models import Reminder, Status
from bot.timeutil import utc_now
from bot.service import make_transport
from tests.conftest import ALICE, BOB, both_providers, wait_until
from tests.fake_telnyx import Reply
from tests.providers import ACCEPTED, REFUSALS, sending_settings


class VirtualTime:
    """One virtual time for a dispatcher (UTC instants) and its token bucket (monotonic seconds).

    Nothing sleeps. When the bucket waits, time jumps to the instant it waits for; when the
    dispatcher is idle, ``run_until`` jumps it to the next due row, as the dispatch timer would
    wake. Each thread's last reading is kept: for a sender, that is when its token was granted.
    """

    def __init__(self) -> None:
        self.started_at = utc_now()
        self.seconds = 0.0
        self.waited = threading.Event()  # set once the bucket has held a sender back
        self._lock = threading.Lock()
        self._reading = threading.local()

    def monotonic(self) -> float:
        with self._lock:
            self._reading.seconds = self.seconds
            return self.seconds

    def utc(self) -> datetime:
        with self._lock:
            return self.started_at + timedelta(seconds=self.seconds)

    def wait(self, seconds: float, stop: threading.Event | None) -> bool:
        """Move to the instant the bucket waits for; say whether ``stop`` was set (then do not move)."""
        if stop is not None and stop.is_set():
            return True
        with self._lock:
            # From the reading the bucket computed ``seconds`` from, not from now: another thread may
            # have moved time since, and overshooting would shift every later grant.
            self.seconds = max(self.seconds, self._reading.seconds + seconds)
        self.waited.set()
        return False

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            self.seconds = max(self.seconds, (moment - self.started_at).total_seconds())

    def last_reading(self) -> float | None:
        """Return the bucket time this thread read last (None if it never read it)."""
        return getattr(self._reading, "seconds", None)


class StampedTransport:
    """A provider's transport, stamping each send with the bucket time at which its token was granted."""

    def __init__(self, transport: Transport, time: VirtualTime) -> None:
        self.transport = transport
        self.time = time
        self.granted_at: list[float | None] = []  # one per request sent, in the order they were sent
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.transport.ready

    def __getattr__(self, name: str) -> object:  # Twilio's find_sent passes through
        return getattr(self.transport, name)

    def send(self, *, from_number: str, to: str, text: str, idempotency_key: str) -> SendResult:
        with self._lock:
            self.granted_at.append(self.time.last_reading())
        return self.transport.send(from_number=from_number, to=to, text=text, idempotency_key=idempotency_key)


@pytest.fixture
def virtual_time() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def make_delivery(tmp_path, fake_sms, provider, virtual_time):
    made = []

    def make(**overrides):
        settings = load_settings(overrides={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", **sending_settings(provider, fake_sms.url),
            "RETRY_BASE_SECONDS": 0.05, "RETRY_MAX_SECONDS": 0.2,
            "MAX_SEND_ATTEMPTS": 4, "SEND_TIMEOUT_SECONDS": 0.5, "OUTBOUND_RATE_PER_SECOND": 0, **overrides,
        })
        engine = make_engine(settings.database_url)
        upgrade_database(engine)
        transport = StampedTransport(make_transport(settings), virtual_time)
        rate = TokenBucket(settings.outbound_rate_per_second, clock=virtual_time.monotonic, wait=virtual_time.wait)
        dispatcher = Dispatcher(make_session_factory(engine), transport, settings, virtual_time.utc, rate=rate)
        made.append((dispatcher, engine))
        # The SDK loads in the background, for seconds on a busy machine; the tests' deadlines are for delivery.
        assert wait_until(lambda: transport.ready, timeout=60), "the provider's SDK did not load"
        return dispatcher

    yield make
    for dispatcher, engine in made:
        dispatcher.stop()
        engine.dispose()


@pytest.fixture
def delivery(make_delivery):
    return make_delivery()


@pytest.fixture
def run_until(virtual_time) -> Callable[..., bool]:
    def run(dispatcher: Dispatcher, condition: Callable[[], Any], timeout: float = 10.0) -> bool:
        """Tick the dispatcher until ``condition()`` holds; when nothing was due, move to the next due row."""
        def step() -> bool:
            if dispatcher.tick() == 0:
                soonest = next_due_at(dispatcher.session_factory)
                if soonest is not None:
                    virtual_time.advance_to(soonest)
            return bool(condition())

        return wait_until(step, timeout=timeout)

    return run


def _queue(dispatcher, owner=ALICE, recipient=BOB, text="hello"):
    now = dispatcher.clock()
    with dispatcher.session_factory() as session, session.begin():
        return lifecycle.schedule(session, owner=owner, recipient=recipient, text=text, send_at=now, now=now).id


def _row(dispatcher, reminder_id):
    with dispatcher.session_factory() as session:
        return session.get(Reminder, reminder_id)


@both_providers
def test_429_with_retry_after_is_retried_after_the_pause(delivery, run_until, fake_sms, provider):
    fake_sms.push(Reply(429, headers={"Retry-After": "1"}))
    reminder_id = _queue(delivery)
    assert run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.SENT)
    attempts = fake_sms.messages
    assert [m.status for m in attempts] == [429, ACCEPTED[provider]]
    if provider == "telnyx":
        assert attempts[0].idempotency_key == attempts[1].idempotency_key  # Telnyx can dedupe the retry
    else:
        assert len(fake_sms.lookups) == 1  # Twilio cannot: the retry asked first whether an earlier one went out
    first, retry = delivery.transport.granted_at
    assert retry - first == pytest.approx(1.0)  # Retry-After honoured: let go when it ended, not before


@both_providers
def test_5xx_and_timeouts_are_retried_then_sent(delivery, run_until, fake_sms):
    fake_sms.push(Reply(500), Reply(503), Reply(200, delay=1.5))  # the third times out client-side
    reminder_id = _queue(delivery)
    assert run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.SENT)
    assert [m.status for m in fake_sms.messages][:2] == [500, 503]
    # The timed-out attempt went through: the retry carries the same Idempotency-Key (Telnyx), or
    # finds it in the message list and does not send again (Twilio).
    assert len(fake_sms.delivered(BOB)) == 1


@both_providers
def test_permanent_4xx_fails_at_once_and_tells_the_owner(delivery, run_until, fake_sms, provider):
    refusal, code = REFUSALS[provider, "invalid_number"]
    fake_sms.push(refusal)
    reminder_id = _queue(delivery)
    assert run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.FAILED)
    row = _row(delivery, reminder_id)
    assert code in row.error and row.owner_notified
    assert run_until(delivery, lambda: len(fake_sms.delivered(ALICE)) == 1)
    notice = fake_sms.delivered(ALICE)[0].text
    assert f"#{reminder_id}" in notice and "could not be delivered" in notice
    assert len([m for m in fake_sms.messages if m.to == BOB]) == 1  # no retry of a permanent error


@both_providers
def test_exhausted_retries_fail_and_notify_once(delivery, run_until, fake_sms):
    fake_sms.rule = lambda request: Reply(500) if request.get("to") == BOB else None
    reminder_id = _queue(delivery)
    assert run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.FAILED)
    assert len([m for m in fake_sms.messages if m.to == BOB]) == 4  # MAX_SEND_ATTEMPTS
    assert run_until(delivery, lambda: len(fake_sms.delivered(ALICE)) >= 1)
    delivery.tick()
    assert len(fake_sms.delivered(ALICE)) == 1


@both_providers
def test_owner_is_not_told_when_they_are_the_unreachable_one(delivery, run_until, fake_sms, provider):
    fake_sms.push(REFUSALS[provider, "opted_out"][0])
    reminder_id = _queue(delivery, owner=ALICE, recipient=ALICE)
    assert run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.FAILED)
    assert _row(delivery, reminder_id).error == "opted_out"
    delivery.tick()
    assert len(fake_sms.messages) == 1


@both_providers
def test_recurring_reminder_is_rescheduled_in_the_same_transaction(delivery, run_until, fake_sms):
    now = delivery.clock()
    with delivery.session_factory() as session, session.begin():
        reminder = lifecycle.schedule(session, owner=ALICE, recipient=ALICE, text="stretch",
                                      send_at=now - timedelta(days=3, minutes=10), now=now,
                                      zone="America/New_York", recurrence="FREQ=DAILY")
        reminder_id = reminder.id
    assert run_until(delivery, lambda: len(fake_sms.delivered(ALICE)) == 1)
    row = _row(delivery, reminder_id)
    assert row.status == Status.SCHEDULED and row.occurrence == 1
    now = delivery.clock()
    assert now < row.send_at <= now + timedelta(days=1)  # missed ones collapse into one
    assert "late, was due" in fake_sms.delivered(ALICE)[0].text
    delivery.tick()
    assert len(fake_sms.delivered(ALICE)) == 1


def _queue_many(dispatcher, count):
    now = dispatcher.clock()
    with dispatcher.session_factory() as session, session.begin():
        return [lifecycle.schedule(session, owner=None, recipient=f"+1646555{n:04d}", text=f"bulk {n}", send_at=now,
                                   now=now, source="api").id for n in range(count)]


def _all_sent(dispatcher, ids):
    with dispatcher.session_factory() as session:
        return all(session.get(Reminder, i).status == Status.SENT for i in ids)


@both_providers
def test_outbound_rate_limit_is_respected(make_delivery, run_until, fake_sms):
    dispatcher = make_delivery(OUTBOUND_RATE_PER_SECOND=20, DISPATCH_CONCURRENCY=8)
    ids = _queue_many(dispatcher, 40)
    assert run_until(dispatcher, lambda: _all_sent(dispatcher, ids))
    granted = dispatcher.transport.granted_at
    assert len(granted) == len(fake_sms.messages) == 40
    # Eight threads asked at once; the bucket let one send go every 1/20 s, evenly, with no burst.
    # (A send that skipped the bucket would carry its thread's previous stamp: a duplicate here.)
    assert sorted(granted) == pytest.approx([n / 20 for n in range(40)])


@both_providers
def test_429_pauses_every_send_for_retry_after(make_delivery, run_until, virtual_time, fake_sms):
    dispatcher = make_delivery(DISPATCH_CONCURRENCY=4)  # no rate limit: the pause alone holds sends back
    fake_sms.push(Reply(429, headers={"Retry-After": "1"}))

    def hold_until_paused(request) -> None:  # then answer as usual
        # Sends on the other threads stay on the wire until the bucket has held someone back, so
        # none of them comes back and asks for another token before the pause has begun.
        virtual_time.waited.wait(timeout=0.4)  # within SEND_TIMEOUT_SECONDS

    fake_sms.rule = hold_until_paused
    ids = _queue_many(dispatcher, 30)
    assert run_until(dispatcher, lambda: _all_sent(dispatcher, ids))
    assert len(fake_sms.delivered()) == 30
    assert len(fake_sms.messages) == 31  # the throttled one was retried, once, and nothing else went twice
    granted = dispatcher.transport.granted_at
    # Time stands still until the 429's pause, so what went before it went at 0: the throttled
    # send and at most one send on each of the three other threads. Nothing went inside the pause.
    before = [at for at in granted if at < 1.0]
    assert before == [0.0] * len(before) and 1 <= len(before) <= 4
    assert len([at for at in granted if at >= 1.0]) == 31 - len(before)


def test_without_an_injected_bucket_the_configured_rate_applies(tmp_path):
    settings = load_settings(overrides={"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
                                        "OUTBOUND_RATE_PER_SECOND": 20})
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(make_session_factory(engine), ConsoleTransport(), settings)
    try:
        assert dispatcher.rate.rate == 20
    finally:
        dispatcher.stop()
        engine.dispose()
