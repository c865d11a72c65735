"""Engine, sessions and schema migrations.

SQLite gets WAL and a busy timeout; PostgreSQL uses psycopg 3. The schema is
owned by Alembic (``bot/storage/migrations``) and upgraded at start-up under a lock, so
several instances starting at once do not race.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

SessionFactory = sessionmaker[Session]


def engine_of(session_factory: SessionFactory) -> Engine:
    """Return the engine ``session_factory`` binds its sessions to, for a hot path that needs no ORM."""
    return session_factory.kw["bind"]
log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_LOCK_ID = 727_110_001  # any constant shared by every instance


def normalize_database_url(database_url: str) -> str:
    """Select psycopg 3 for a bare postgresql:// URL."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix):]
    return database_url


class SqliteWriterLock:
    """One writing transaction at a time on a SQLite file, across threads and processes, queued.

    SQLite allows one writer; the others get SQLITE_BUSY and its busy handler retries them by
    sleeping 1, 2, 5 ... 100 ms, so under gunicorn (two processes, several threads each) a write
    could wait 100 ms after the lock was already free. Writers here wait on a lock file
    (``flock``) and a thread lock instead, and wake the moment the previous writer commits.

    There is one lock per database file per process (``for_path``), shared by every engine. A
    thread that already holds it (a second session writing while its first is still open) does not
    wait for itself: it goes on without, and SQLite's own busy timeout decides, as it would without
    this lock. So does a thread that waited ``THREAD_WAIT_SECONDS`` for the other threads of its
    process. The file lock has no timeout: it is only ever held by another process for the length
    of one write transaction, and the bot never holds a transaction open across a network call.
    """

    THREAD_WAIT_SECONDS = 30.0  # as long as SQLite's busy timeout
    _by_path: "weakref.WeakValueDictionary[str, SqliteWriterLock]" = weakref.WeakValueDictionary()
    _registry_lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self._reset()

    def _reset(self) -> None:
        self._threads = threading.Lock()
        self._owner: int | None = None
        self._file = open(f"{self.path}.write-lock", "a")  # noqa: SIM115 (lives as long as the process)

    @classmethod
    def for_path(cls, database_path: str) -> "SqliteWriterLock":
        """Return this process's lock for the database file at ``database_path``."""
        path = os.path.realpath(database_path)
        with cls._registry_lock:
            lock = cls._by_path.get(path)
            if lock is None:  # the engines that used it are gone, or there never were any
                lock = cls._by_path[path] = cls(path)
            return lock

    @classmethod
    def _after_fork_in_child(cls) -> None:
        # A thread of the parent may have held a lock at the fork; in the child it never lets go,
        # and the lock file's descriptor is shared with the parent. Start afresh.
        cls._registry_lock = threading.Lock()
        for lock in list(cls._by_path.values()):
            lock._reset()

    def acquire(self) -> bool:
        """Take the lock; False (and nothing taken) when this thread holds it or waited too long."""
        if self._owner == threading.get_ident():
            return False
        if not self._threads.acquire(timeout=self.THREAD_WAIT_SECONDS):
            log.warning("waited %.0f s for the SQLite writer lock; going on without it", self.THREAD_WAIT_SECONDS)
            return False
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._owner = threading.get_ident()
        return True

    def release(self) -> None:
        self._owner = None
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._threads.release()


os.register_at_fork(after_in_child=SqliteWriterLock._after_fork_in_child)


class _SqliteConnection(sqlite3.Connection):
    """A sqlite3 connection that gives the writer lock back when its transaction ends."""

    writer_lock: SqliteWriterLock | None = None
    holds_writer_lock = False

    def take_writer_lock(self) -> None:
        if self.writer_lock is not None and not self.holds_writer_lock:
            self.holds_writer_lock = self.writer_lock.acquire()

    def _give_back(self) -> None:
        if self.holds_writer_lock:
            self.holds_writer_lock = False
            assert self.writer_lock is not None
            self.writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()


def take_writer_lock(connection: Connection) -> None:
    """Take the SQLite writer lock for ``connection``'s transaction now, before its first write.

    For writes sent to the driver directly (``precompiled.DriverConnection``), which the
    before-cursor-execute event below does not see. Nothing on another database, or without the lock.
    """
    driver_connection = connection.connection.driver_connection
    if isinstance(driver_connection, _SqliteConnection):
        driver_connection.take_writer_lock()


def _is_read_only(statement: str) -> bool:
    return statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA")


# The autocommit twin's pool (``autocommit_twin``): connections kept, and more at once under a burst.
LONE_POOL_SIZE = 4
LONE_MAX_OVERFLOW = 12


# hide_parameters: SQLAlchemy puts bound values (phone numbers, message text) into exception
# messages, and those end up in logs.
def make_engine(database_url: str, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    """Create an engine configured for the bot's access pattern.

    Each send thread holds a connection only for its short reads and writes, never during the call
    to Telnyx, so a pool smaller than DISPATCH_CONCURRENCY is enough (PostgreSQL only).
    """
    database_url = normalize_database_url(database_url)
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, hide_parameters=True,
                               connect_args={"timeout": 30, "check_same_thread": False,
                                             "factory": _SqliteConnection})
        path = engine.url.database
        writer_lock = SqliteWriterLock.for_path(path) if path and path != ":memory:" else None

        @event.listens_for(engine, "connect")
        def _configure_sqlite(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            if writer_lock is not None:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            dbapi_connection.writer_lock = writer_lock

        @event.listens_for(engine, "before_cursor_execute")
        def _queue_writers(_connection, cursor, statement, _parameters, _context, _many):  # type: ignore[no-untyped-def]
            # The driver opens a transaction just before the first INSERT/UPDATE/DELETE; take the
            # lock there, and keep it until that transaction commits or rolls back.
            if not _is_read_only(statement):
                cursor.connection.take_writer_lock()

        return engine
    return _server_engine(database_url, pool_size, max_overflow)


def _server_engine(database_url: str, pool_size: int, max_overflow: int, **options: object) -> Engine:
    # A database host that drops packets would otherwise hang a request for the kernel's TCP timeout
    # (minutes) instead of answering 503 at once.
    connect_args = {"connect_timeout": 5} if database_url.startswith("postgresql") else {}
    return create_engine(database_url, hide_parameters=True, pool_pre_ping=True, pool_size=pool_size,
                         max_overflow=max_overflow, connect_args=connect_args, **options)


_autocommit_twins: "weakref.WeakKeyDictionary[Engine, Engine]" = weakref.WeakKeyDictionary()
_autocommit_twins_lock = threading.Lock()


def autocommit_twin(engine: Engine) -> Engine:
    """Return an engine on ``engine``'s PostgreSQL database whose connections stay in autocommit.

    For statements that PostgreSQL commits on their own (``group_commit.LoneStatement``). Switching
    a pooled connection to autocommit and back cost three driver calls per statement, about 70 us
    of CPU (an eighth of the statement's, measured in one process). The twin has a pool of its own,
    smaller than the engine's: each statement holds a connection for one round trip after the
    ping. A connection in autocommit has no transaction to roll back when it goes back to the pool,
    so nothing is sent then. It is disposed with ``engine``.
    """
    twin = _autocommit_twins.get(engine)
    if twin is not None:
        return twin
    with _autocommit_twins_lock:
        twin = _autocommit_twins.get(engine)
        if twin is None:
            twin = _autocommit_twins[engine] = _server_engine(
                engine.url.render_as_string(hide_password=False), LONE_POOL_SIZE, LONE_MAX_OVERFLOW,
                isolation_level="AUTOCOMMIT", pool_reset_on_return=None, skip_autocommit_rollback=True)
            event.listen(engine, "engine_disposed", lambda _engine: twin.dispose())
    return twin


def make_session_factory(engine: Engine) -> SessionFactory:
    """Return a plain sessionmaker (no Flask context needed, so threads can use it)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None):  # type: ignore[no-untyped-def]
    """Return an Alembic config for the bundled migrations, bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the migration lock: a PostgreSQL advisory lock, or a lock file beside a SQLite database.

    Instances starting together (gunicorn workers) would otherwise race to create the tables.
    """
    if connection.dialect.name == "sqlite":
        path = connection.engine.url.database
        if not path or path == ":memory:":
            yield
            return
        with open(f"{path}.migrate-lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()  # a failed migration leaves the transaction aborted
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
        connection.commit()


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``, one instance at a time."""
    from alembic import command

    with engine.connect() as connection, migration_lock(connection):
        command.upgrade(alembic_config(connection), revision)
        connection.commit()
