"""The outbound token bucket, driven by a manual clock: exact times, no sleeping."""

from __future__ import annotations

import threading

import pytest

from bot.delivery.ratelimit import TokenBucket


class ManualClock:
    """Monotonic seconds that move only when the bucket waits, by exactly what it asked for."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float, stop: threading.Event | None) -> bool:
        if stop is not None and stop.is_set():
            return True
        self.waits.append(seconds)
        self.now += seconds
        return False


def _bucket(rate: float, burst: float = 1.0) -> tuple[TokenBucket, ManualClock]:
    clock = ManualClock()
    return TokenBucket(rate, burst, clock=clock, wait=clock.wait), clock


def _grant_times(bucket: TokenBucket, clock: ManualClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        assert bucket.acquire()
        times.append(clock.now - 1000.0)
    return times


def test_tokens_are_handed_out_evenly_at_the_rate():
    bucket, clock = _bucket(rate=20)
    times = _grant_times(bucket, clock, 40)
    assert times == pytest.approx([n * 0.05 for n in range(40)])
    # No one-second window holds more than the rate plus the one-token burst.
    assert max(sum(1 for t in times if start <= t < start + 1.0 - 1e-9) for start in times) == 20


def test_an_idle_spell_saves_up_no_more_than_the_burst():
    for burst in (1, 3):
        bucket, clock = _bucket(rate=10, burst=burst)
        _grant_times(bucket, clock, 1)
        clock.now += 60  # a quiet minute
        times = _grant_times(bucket, clock, burst + 1)
        assert times == pytest.approx([60.0] * burst + [60.1], abs=1e-9)  # the burst at once, then the rate


def test_no_limit_never_waits():
    bucket, clock = _bucket(rate=0)
    _grant_times(bucket, clock, 1000)
    assert clock.waits == []


@pytest.mark.parametrize("rate", [0, 20], ids=["no-limit", "limited"])
def test_a_pause_holds_every_sender_back_until_it_ends(rate):
    bucket, clock = _bucket(rate=rate)
    _grant_times(bucket, clock, 1)
    bucket.pause(1.5)
    bucket.pause(0.5)  # a shorter pause does not cut the longer one short
    paused_at = clock.now
    first, second = _grant_times(bucket, clock, 2)
    assert clock.now - paused_at >= 1.5
    assert first == pytest.approx(1.5)  # the token saved up during the pause goes at its end...
    assert second - first == pytest.approx(1 / rate if rate else 0)  # ...and no burst follows


def test_stop_ends_the_wait_for_a_token():
    bucket, clock = _bucket(rate=1)
    stop = threading.Event()
    assert bucket.acquire(stop)
    stop.set()
    assert not bucket.acquire(stop)
    assert clock.now == 1000.0  # gave up at once instead of waiting a second


def test_the_default_wait_returns_at_once_when_stopped():
    clock = ManualClock()
    bucket = TokenBucket(0.001, clock=clock)  # the real wait: a token would take 1000 s
    stop = threading.Event()
    assert bucket.acquire(stop)
    stop.set()
    assert not bucket.acquire(stop)
