"""One outbound budget per provider account, shared by every worker and instance.

Telnyx limits an account, not a process: two gunicorn workers that each kept to 50 messages/s sent
100/s between them, and the excess came back as 429s. So sends take their slots from one GCRA
instant in a store every process shares (bot.delivery.budget_store: the database, or Redis when
REDIS_URL is set). Slots are ``1 / rate`` apart across the whole account, so no one-second window
holds more than ``rate + 1`` of them.

A process takes slots in batches, as many as it has senders waiting (at most half a second's worth),
so one round trip serves several sends, and a process with nothing to send takes none. A slot nobody
picked up within 50 ms of its instant lapses rather than go out late beside the next ones, and so
does a slot whose sender woke more than 50 ms after it (then it takes one more, once). A 429
pushes the shared instant past its Retry-After (slots other processes already hold still go). When
the store does not answer, each process falls back to its share of the rate
(``OUTBOUND_BUDGET_PROCESSES``) on a bucket of its own, says so once in the log, and tries the store
again every few seconds.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import deque
from typing import Callable

from bot.delivery.budget_store import BudgetStore, BudgetStoreError, DatabaseBudgetStore, RedisBudgetStore
from bot.delivery.ratelimit import OutboundLimit, TokenBucket, Wait, wait_or_stop
from bot.settings import Settings
from bot.storage.db import SessionFactory

log = logging.getLogger(__name__)

_MOST_AHEAD_SECONDS = 0.5  # one round trip takes at most this much of the account's rate
_RETRY_STORE_SECONDS = 5.0  # while the store is down, how often a sender tries it again
_LATE_SLOT_SECONDS = 0.05
_LOCAL_SHARE = -math.inf  # what _take_slot returns while the store is down: use this process's share
_MICROSECONDS = 1_000_000


def _to_us(seconds: float) -> int:
    return round(seconds * _MICROSECONDS)


def budget_name(settings: Settings) -> str:
    """Name the account whose budget this is: the provider and a hash of what names the account (never a key)."""
    provider = settings.provider
    account = {"telnyx": settings.telnyx_api_key, "twilio": settings.twilio_account_sid}.get(provider)
    if not account:
        return provider  # the console
    return f"{provider}:" + hashlib.sha256(account.encode()).hexdigest()[:32]


class SharedBudget:
    """Allow ``rate`` sends a second across every process that shares ``store``; same calls as TokenBucket.

    Args:
        processes: how many processes share the rate; each sends at ``rate / processes`` while the
            store does not answer.
        clock: seconds since the epoch, the same in every process (instants are compared across
            them); tests pass a manual clock.
        wait: how to wait for a slot; tests pass one that moves their clock.
        late_slot_seconds: how late after its instant a slot may still be used.
    """

    def __init__(self, store: BudgetStore, rate: float, *, processes: int = 1, clock: Callable[[], float] = time.time,
                 wait: Wait = wait_or_stop, retry_store_seconds: float = _RETRY_STORE_SECONDS,
                 late_slot_seconds: float = _LATE_SLOT_SECONDS) -> None:
        if rate <= 0:
            raise ValueError("a shared budget needs a rate; without one use TokenBucket(0)")
        self.rate = rate
        # The store counts whole microseconds; rounding the interval up never exceeds the rate.
        self.interval_us = math.ceil(_MICROSECONDS / rate)
        self.interval = self.interval_us / _MICROSECONDS
        # How late a sender may still use a slot: 50 ms lets at most 5% more than the rate (or one more
        # send, at 20/s and below) into a one-second window, and covers a sender that comes back from
        # its previous send, or wakes, a little after its slot (the thread scheduler, the GIL).
        self.late_slot_seconds = max(late_slot_seconds, self.interval)
        self.store = store
        self.most_per_round_trip = max(1, math.ceil(rate * _MOST_AHEAD_SECONDS))
        self.fallback = TokenBucket(rate / max(processes, 1), clock=clock, wait=wait)
        self._clock = clock
        self._wait = wait
        self._retry_store_seconds = retry_store_seconds
        self._lock = threading.Lock()
        self._fetched = threading.Condition(self._lock)  # a round trip ended: look at the slots again
        self._slots: deque[float] = deque()  # taken from the store, not yet handed to a sender
        self._fetching = False  # one round trip at a time per process; the others wait for its slots
        self._asking = 0  # senders inside acquire(): how many slots the next round trip takes
        self._paused_until = float("-inf")
        self._store_down_until: float | None = None  # set while the store does not answer
        # Counters, for tests and the benchmark.
        self.round_trips = 0
        self.dropped = 0

    @property
    def senders_waiting(self) -> int:
        """Count the senders inside acquire() now: the size of the next round trip."""
        with self._lock:
            return self._asking

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for this process's next slot; give up (False) when ``stop`` is set first."""
        with self._lock:
            self._asking += 1
        try:
            late_once = False
            while True:
                slot = self._take_slot(stop)
                if slot is None:
                    return False
                if slot == _LOCAL_SHARE:
                    return self.fallback.acquire(stop)
                may_go_at = max(slot, self._clock())
                if not self._wait_for(slot, stop):
                    return False
                woke_late = self._clock() - may_go_at > self.late_slot_seconds
                with self._lock:
                    if slot < self._paused_until:
                        # A 429 paused everyone while this sender waited: its slot is inside the pause.
                        # Take a fresh one (after it) rather than go at its end with all the others.
                        continue
                    if not woke_late or late_once:
                        return True
                    # The scheduler woke this sender well after its slot (a busy host): going now would
                    # bunch it with the next ones. Let the slot lapse and take another, once per send,
                    # so a host that is always this late still sends.
                    late_once = True
                    self.dropped += 1
        finally:
            with self._lock:
                self._asking -= 1

    def pause(self, seconds: float) -> None:
        """Hold every sender of the account back for ``seconds``: here, and through the store, everywhere."""
        with self._lock:
            until = self._paused_until = max(self._paused_until, self._clock() + seconds)
            while self._slots and self._slots[0] < until:
                self._slots.popleft()
            store_up = self._store_down_until is None
        self.fallback.pause(seconds)
        if store_up:
            try:
                self.store.reserve(0, self.interval_us, _to_us(until))
            except BudgetStoreError as error:
                self._note_store_down(error)

    def close(self) -> None:
        """Let go of the store's connections."""
        self.store.close()

    def _take_slot(self, stop: threading.Event | None) -> float | None:
        """Return a slot to wait for, _LOCAL_SHARE while the store is down, or None when stopped."""
        with self._lock:
            while True:
                if stop is not None and stop.is_set():
                    return None
                now = self._clock()
                if self._store_down_until is not None and now < self._store_down_until:
                    return _LOCAL_SHARE
                # A slot whose instant passed while nobody wanted it lapses: used now, it would go out
                # together with the slots after it (after a process stopped sending for a while).
                while self._slots and self._slots[0] < now - self.late_slot_seconds:
                    self._slots.popleft()
                    self.dropped += 1
                if self._slots:
                    return self._slots.popleft()
                if not self._fetching:
                    break
                if self._store_down_until is not None:  # a retry of a store that was down: do not wait on it
                    return _LOCAL_SHARE
                self._fetched.wait(timeout=1.0)  # the round trip's own timeout ends it sooner
            self._fetching = True
            count = min(self.most_per_round_trip, max(1, self._asking))
            not_before = _to_us(max(now, self._paused_until))
        first = None
        try:
            first = self.store.reserve(count, self.interval_us, not_before)
        except BudgetStoreError as error:
            self._note_store_down(error)
        finally:  # whatever happened, the next sender may try
            with self._lock:
                self._fetching = False
                if first is not None:
                    self.round_trips += 1
                    self._slots.extend((first + position * self.interval_us) / _MICROSECONDS
                                       for position in range(1, count))
                self._fetched.notify_all()
        if first is None:
            return _LOCAL_SHARE
        self._note_store_up()
        return first / _MICROSECONDS  # this sender's own: it asked for it, so it is never too late for it

    def _wait_for(self, slot: float, stop: threading.Event | None) -> bool:
        """Wait until ``slot``; False when ``stop`` was set first."""
        while True:
            remaining = slot - self._clock()
            if remaining < 1 / _MICROSECONDS:  # the store's resolution: less is float rounding of the same instant
                return True
            if self._wait(remaining, stop):
                return False

    def _note_store_up(self) -> None:
        with self._lock:
            came_back, self._store_down_until = self._store_down_until is not None, None
        if came_back:
            log.info("outbound budget: %s answers again; sending on the shared budget", self.store.description)

    def _note_store_down(self, error: BudgetStoreError) -> None:
        with self._lock:
            first_failure = self._store_down_until is None
            self._store_down_until = self._clock() + self._retry_store_seconds
        if first_failure:  # once per outage, not once per send
            log.warning("outbound budget: %s did not answer (%s); each process sends at most %.3g/s until it does",
                        self.store.description, error, self.fallback.rate)


def make_outbound_limit(settings: Settings, session_factory: SessionFactory) -> OutboundLimit:
    """Return the account's shared budget (Redis when REDIS_URL is set, else the database); no limit at rate 0."""
    if settings.outbound_rate_per_second <= 0:
        return TokenBucket(0)  # no limit to share; a 429 still pauses this process
    name = budget_name(settings)
    store: BudgetStore = (RedisBudgetStore(settings.redis_url, name) if settings.redis_url
                          else DatabaseBudgetStore(session_factory, name))
    return SharedBudget(store, settings.outbound_rate_per_second, processes=settings.outbound_budget_processes)
