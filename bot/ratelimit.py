"""A thread-safe token bucket for the outbound message rate, with a pause for backpressure."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Allow ``rate`` acquisitions a second, bursts up to ``burst``; rate 0 means no limit.

    The burst defaults to one: tokens are handed out evenly, so no one-second window sees more
    than ``rate + 1`` sends even right after an idle spell (a full-rate burst would double that).
    A ``pause`` holds everyone back, whatever the rate, including when there is no limit.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.capacity = max(burst, 1.0)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a token (and the end of any pause); give up (False) when ``stop`` is set first."""
        while True:  # every pass either returns or waits for a token or a pause to come due
            with self._lock:
                now = time.monotonic()
                wait = self._paused_until - now
                if wait <= 0:
                    if self.rate <= 0:
                        return True
                    self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                    self._updated = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return True
                    wait = (1 - self._tokens) / self.rate
            if stop is None:
                time.sleep(wait)
            elif stop.wait(wait):
                return False

    def pause(self, seconds: float) -> None:
        """Hold every sender back for ``seconds`` (backpressure after a 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
