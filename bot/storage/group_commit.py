"""Group commit: a request's one-statement write shares a transaction with the writes queued beside it.

SQLite has one writer at a time. Each write transaction pays for the writer lock (a thread lock
and a file lock shared with the other processes: ``db.SqliteWriterLock``) and for its commit (a WAL
append), and every thread that waits for the lock is a thread handed the GIL back later. Under a
burst of API requests each was a transaction of its own: 36-58% of the floor's throughput
(bench/README-http.md). Here the requests of one process queue their writes instead, and one thread
runs what is queued in one transaction: one lock, one commit for all of them. At one request at a
time a write costs one thread hand-off more (tens of microseconds); under load it costs less.

Nothing changes for the writes themselves: each unit of work is the statement it would have run
alone, run in order on the one connection, so a unit sees the units before it (the API's limits,
checked inside its INSERT, count the rows queued ahead of it). Each caller waits until the
transaction holding its write has committed, so an answer still means "stored". A unit that
raises rolls back the shared transaction; every unit of it then runs again in a transaction of its
own, so that only the one that failed fails.

PostgreSQL has concurrent writers and row locks; grouping measured no gain there (the cost is the
CPU of each statement, not its commit), and units on one transaction would take the API counters'
shard locks in any order. There ``runner_for`` runs each unit at once, as a lone statement
(``LoneStatement``): PostgreSQL runs a statement sent outside a transaction block as a transaction
of its own, its triggers included, and has committed it when it answers. That is the guarantee of
BEGIN, the statement and COMMIT in one round trip instead of three, which took POST /sms/schedule
and the webhook from 59% to 72% of the floor's throughput (bench/README-http.md). It runs on a pool
of connections that stay in autocommit (``db.autocommit_twin``). So a unit must be one statement, on
every runner.

On every runner a unit is given the driver's connection (``precompiled.DriverConnection``), not
SQLAlchemy's: it runs ``Precompiled`` statements, and SQLAlchemy's per-statement work around the
driver (about 100 us of CPU) is left out.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from typing import Callable, Generic, TypeVar

from sqlalchemy import Connection, Engine

from bot.storage.db import autocommit_twin, take_writer_lock
from bot.storage.precompiled import DriverConnection

log = logging.getLogger(__name__)

T = TypeVar("T")
# A unit of work: given the driver's connection (``precompiled.DriverConnection``) on every runner,
# it runs ``Precompiled`` statements.
Work = Callable[[DriverConnection], T]


def _driver_side(connection: Connection) -> DriverConnection:
    """The driver's side of ``connection``'s transaction, for its units.

    The units' writes go past SQLAlchemy's events, so SQLite's writer lock is taken here, where the
    first write's event would have taken it (nothing on another database).
    """
    take_writer_lock(connection)
    return DriverConnection(connection.connection, connection.dialect)


class OwnTransaction:
    """Runs each unit at once in a transaction of its own (SQLite in memory)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, work: Work[T]) -> T:
        """Run ``work`` (one statement) in a transaction of its own; return what it returns once committed."""
        with self.engine.begin() as connection:
            return work(_driver_side(connection))


class LoneStatement:
    """Runs each unit at once as a statement PostgreSQL commits on its own (autocommit).

    On the engine's autocommit twin (``db.autocommit_twin``), whose connections never leave
    autocommit, and on the driver's connection (``precompiled.DriverConnection``): the unit runs
    ``Precompiled`` statements only.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = autocommit_twin(engine)

    def run(self, work: Work[T]) -> T:
        """Run ``work`` (one statement) outside a transaction block; return what it returns, committed.

        A second statement in ``work`` would be a second transaction: not atomic with the first.
        """
        with DriverConnection.checked_out(self.engine) as connection:  # in autocommit: nothing to reset after
            return work(connection)


class _Unit(Generic[T]):
    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work: Work[T]) -> None:
        self.work = work
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def finish(self, result: T) -> None:
        self.result = result
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()


class GroupCommit:
    """Runs the units queued by this process's threads on one thread, as many per transaction as are waiting.

    The thread starts with the first unit and ends after ``IDLE_SECONDS`` without one. It holds the
    engine weakly, so an engine nobody uses any more (a test's) goes, and its thread after it.
    """

    MOST_PER_TRANSACTION = 64  # bounds how long the first of them waits for the last
    IDLE_SECONDS = 10.0
    # A caller gives up after this long: SQLite's busy timeout, twice (its unit may wait for the
    # writer lock once in its group, and once more alone).
    WAIT_SECONDS = 60.0

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self.transactions = 0  # committed or not: how many the units took (tests and benchmarks read it)
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Unit] = queue.SimpleQueue()
        self._serving = False
        self._pid = os.getpid()

    def run(self, work: Work[T]) -> T:
        """Queue ``work`` (one short write on the connection it is given); return its result once committed.

        Raises what ``work`` raised when it ran alone, or what the transaction's commit raised.
        """
        unit = _Unit(work)
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread did not come along
                self._queue, self._serving, self._pid = queue.SimpleQueue(), False, os.getpid()
            self._queue.put(unit)
            if not self._serving:
                self._serving = True
                threading.Thread(target=self._serve, args=(self._queue,), name="sqlite-group-commit",
                                 daemon=True).start()
        if not unit.done.wait(self.WAIT_SECONDS):
            raise TimeoutError(f"a grouped write waited {self.WAIT_SECONDS:.0f} s and was not run")
        if unit.error is not None:
            raise unit.error
        return unit.result  # type: ignore[return-value]

    def _serve(self, units: queue.SimpleQueue[_Unit]) -> None:
        while True:
            try:
                group = [units.get(timeout=self.IDLE_SECONDS)]
            except queue.Empty:
                with self._lock:  # a unit queued meanwhile was queued under this lock: it is seen here
                    if units.empty():
                        self._serving = False
                        return
                continue
            while len(group) < self.MOST_PER_TRANSACTION:
                try:
                    group.append(units.get_nowait())
                except queue.Empty:
                    break
            try:
                self._run_group(group)
            except BaseException as exc:  # noqa: BLE001 (a caller must never wait for a unit nobody runs)
                log.exception("group commit failed outside its units")
                for unit in group:
                    if not unit.done.is_set():
                        unit.fail(exc)

    def _run_group(self, group: list[_Unit]) -> None:
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the engine of a grouped write is gone")
        try:
            self.transactions += 1
            with engine.begin() as connection:
                driver = _driver_side(connection)
                results = [unit.work(driver) for unit in group]
        except Exception as exc:  # noqa: BLE001 (given back to its caller, or each unit is run alone)
            if len(group) == 1:
                group[0].fail(exc)
                return
            for unit in group:  # rolled back: each runs again alone, so only the failing one fails
                self._run_group([unit])
            return
        for unit, result in zip(group, results):
            unit.finish(result)


Runner = GroupCommit | LoneStatement | OwnTransaction
_grouped: "weakref.WeakKeyDictionary[Engine, GroupCommit]" = weakref.WeakKeyDictionary()
_grouped_lock = threading.Lock()


def runner_for(engine: Engine) -> Runner:
    """Return the engine's runner: grouped on a SQLite file, lone statements on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        return LoneStatement(engine)
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return OwnTransaction(engine)
    runner = _grouped.get(engine)
    if runner is None:
        with _grouped_lock:
            runner = _grouped.get(engine)
            if runner is None:
                runner = _grouped[engine] = GroupCommit(engine)
    return runner
