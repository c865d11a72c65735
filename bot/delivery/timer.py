"""APScheduler as the clock that wakes the dispatcher (or the inbox); the database holds the work.

One interval job per process polls for due rows (so rows written by other
instances are found), and after every tick the job is pulled forward to the
soonest due row, so a reminder goes out within milliseconds of its time.
``wake()`` runs a tick at once (a reply was just queued). APScheduler's
``misfire_grace_time`` would drop a late run, so it is off: late work is done.
After every run the timer tells its owner how it went (``on_tick``): a database
that is down fails every tick, and the owner decides what to log (once per
outage, not a traceback a tick). The inbox (``bot.conversation.inbox``) runs on a timer of its
own, the same way: it says when its next work is due with ``next_due``.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler

from bot.delivery.dispatcher import Dispatcher, next_due_at

log = logging.getLogger(__name__)

_JOB_ID = "dispatch"
_MAX_ROUNDS = 100  # bounds one run; the interval job picks up anything left


class Worker(Protocol):
    """What a timer drives: the dispatcher, or the inbox processor."""

    stopping: threading.Event

    def tick(self) -> int:
        """Do the work due now; return how much was done."""

    def request_stop(self) -> None:
        """Stop taking work; do not wait."""

    def stop(self) -> None:
        """Stop taking work and let what is under way finish."""


class DispatchTimer:
    """Run ``dispatcher.tick`` on time, in a background thread."""

    def __init__(self, dispatcher: Dispatcher | Worker, interval_seconds: float,
                 on_tick: Callable[[Exception | None], None],
                 next_due: Callable[[], datetime | None] | None = None) -> None:
        """Tick every ``interval_seconds``; ``on_tick`` hears None after a tick that ran, or what failed it.

        ``next_due`` says when the worker's next work is due (the dispatcher's soonest due row by default).
        """
        self.dispatcher = dispatcher
        self.interval = interval_seconds
        self.on_tick = on_tick
        if next_due is None:
            session_factory = dispatcher.session_factory  # type: ignore[union-attr]
            next_due = lambda: next_due_at(session_factory)  # noqa: E731
        self.next_due = next_due
        self.scheduler = BackgroundScheduler(
            timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._wake_requested = threading.Event()
        self._busy = False  # a run is under way and will look at _wake_requested before it ends
        # A wake while a tick runs is not lost (see _run); APScheduler's warning about it is noise.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

    def start(self) -> None:
        self.scheduler.add_job(self._run, "interval", seconds=self.interval, id=_JOB_ID,
                               next_run_time=datetime.now(timezone.utc))
        self.scheduler.add_listener(self._after_run, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self.scheduler.start()

    def _after_run(self, _event: object) -> None:
        # APScheduler counts a run as finished only after _run has returned. A wake() in between saw
        # _busy False, asked for a run, and APScheduler skipped it (max_instances=1) and moved the
        # job to the next interval. The request is still pending here, after the count went down.
        if self._wake_requested.is_set() and not self.dispatcher.stopping.is_set():
            self._run_at(datetime.now(timezone.utc))

    def wake(self) -> None:
        """Tick as soon as possible."""
        self._wake_requested.set()
        if not self._busy:  # a running tick sees the request before it returns (see _run)
            self._run_at(datetime.now(timezone.utc))

    def shutdown(self) -> None:
        """Stop claiming, let in-flight sends finish, release the rest, stop the clock."""
        self.dispatcher.request_stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.dispatcher.stop()

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def _run(self) -> None:
        self._busy = True
        try:
            for _ in range(_MAX_ROUNDS):
                self._wake_requested.clear()
                try:
                    self.dispatcher.tick()
                    soonest = self.next_due()
                except Exception as exc:  # noqa: BLE001 - the owner logs it; the next tick tries again
                    self._wake_requested.clear()  # the next tick is the interval's, not an immediate retry
                    self._report(exc)
                    return
                self._report(None)
                if self.dispatcher.stopping.is_set():
                    return
                if soonest is not None and soonest <= datetime.now(timezone.utc):
                    continue  # came due during the tick: the scheduler would skip a run while this one is busy
                if soonest is not None:
                    self._run_at(soonest)
                # Say "not busy" before the last look at the wake flag: a wake() from now on
                # schedules a run itself (and _after_run retries it if APScheduler still counted
                # this run), and one that came earlier is seen here.
                self._busy = False
                if not self._wake_requested.is_set():
                    return
                self._busy = True
        finally:
            self._busy = False

    def _report(self, error: Exception | None) -> None:
        try:
            self.on_tick(error)
        except Exception:  # a failing report must not stop the clock
            log.exception("reporting a dispatch tick failed")

    def _run_at(self, moment: datetime) -> None:
        job = self.scheduler.get_job(_JOB_ID)
        if job is None or job.next_run_time is None:
            return
        moment = max(moment, datetime.now(timezone.utc))
        if moment < job.next_run_time - timedelta(milliseconds=1):
            job.modify(next_run_time=moment)
