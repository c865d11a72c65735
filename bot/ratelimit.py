"""A thread-safe token bucket for the outbound message rate."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Allow ``rate`` acquisitions a second on average, bursts up to ``burst``; rate 0 means no limit."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(rate, 1.0)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a token; give up (False) when ``stop`` is set first."""
        if self.rate <= 0:
            return True
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                wait = max(self._paused_until - now, 0.0)
                if wait == 0.0 and self._tokens >= 1:
                    self._tokens -= 1
                    return True
                wait = wait or (1 - self._tokens) / self.rate
            if stop is not None and stop.wait(wait):
                return False
            if stop is None:
                time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every sender back for ``seconds`` (backpressure after a 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
