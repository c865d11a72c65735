"""A thread-safe token bucket for the outbound message rate, with a pause for backpressure."""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

MonotonicClock = Callable[[], float]
# Wait up to ``seconds``; return True when ``stop`` was set meanwhile (always False without one).
Wait = Callable[[float, threading.Event | None], bool]


class OutboundLimit(Protocol):
    """What the dispatcher asks of a rate limit: this process's bucket, or the account's shared budget."""

    rate: float

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a send to be allowed; False when ``stop`` was set first."""

    def pause(self, seconds: float) -> None:
        """Hold every send back for ``seconds`` (after a 429)."""

    def close(self) -> None:
        """Let go of connections (the dispatcher is stopping)."""


def wait_or_stop(seconds: float, stop: threading.Event | None) -> bool:
    """Sleep ``seconds``, or until ``stop`` is set; say whether it was."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


class TokenBucket:
    """Allow ``rate`` acquisitions a second, bursts up to ``burst``; rate 0 means no limit.

    The burst defaults to one: tokens are handed out evenly, so no one-second window sees more
    than ``rate + 1`` sends even right after an idle spell (a full-rate burst would double that).
    A ``pause`` holds everyone back, whatever the rate, including when there is no limit.

    Args:
        clock: monotonic seconds; tests pass a manual clock.
        wait: how to wait for a token or the end of a pause; tests pass one that moves their clock.
    """

    def __init__(self, rate: float, burst: float = 1.0, *, clock: MonotonicClock = time.monotonic,
                 wait: Wait = wait_or_stop) -> None:
        self.rate = rate
        self.capacity = max(burst, 1.0)
        self._clock = clock
        self._wait = wait
        # When the next token is due if sends kept exactly to the rate (the GCRA's "theoretical
        # arrival time"). Comparing instants rather than counting fractional tokens means a waiter
        # woken at the instant it asked for finds its token: 0.05 s * 20/s can come to 0.9999999999
        # tokens, and a clock that moves only when asked would then never make up the rest.
        self._next_due = clock()
        self._paused_until = float("-inf")
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a token (and the end of any pause); give up (False) when ``stop`` is set first."""
        while True:  # every pass either returns or waits for a token or a pause to come due
            with self._lock:
                now = self._clock()
                ready_at = self._paused_until
                if self.rate > 0:  # a full bucket lets a token go (capacity - 1) intervals early
                    ready_at = max(ready_at, self._next_due - (self.capacity - 1) / self.rate)
                if now >= ready_at:
                    if self.rate > 0:
                        self._next_due = max(self._next_due, now) + 1 / self.rate
                    return True
                wait = ready_at - now
            if self._wait(wait, stop):
                return False

    def pause(self, seconds: float) -> None:
        """Hold every sender back for ``seconds`` (backpressure after a 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def close(self) -> None:
        """Nothing to let go of: the bucket lives in this process."""
