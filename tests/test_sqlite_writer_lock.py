"""SQLite writers queue on one lock per database file, and a thread never waits for itself."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

from sqlalchemy import func, select

from bot.storage import lifecycle
from bot.storage.db import SqliteWriterLock, make_engine, make_session_factory, upgrade_database
from bot.storage.models import Reminder
from bot.timeutil import utc_now
from tests.conftest import ALICE


def test_one_lock_per_file_whatever_the_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert SqliteWriterLock.for_path("bot.db") is SqliteWriterLock.for_path(str(tmp_path / "bot.db"))
    assert SqliteWriterLock.for_path("bot.db") is not SqliteWriterLock.for_path("other.db")


def test_the_holder_does_not_wait_for_itself(tmp_path):
    lock = SqliteWriterLock.for_path(str(tmp_path / "bot.db"))
    assert lock.acquire() is True
    assert lock.acquire() is False  # a second session of the same thread: SQLite's busy timeout decides
    lock.release()
    assert lock.acquire() is True
    lock.release()


def test_another_thread_waits_until_the_holder_commits(tmp_path):
    lock = SqliteWriterLock.for_path(str(tmp_path / "bot.db"))
    assert lock.acquire()
    started, acquired = threading.Event(), threading.Event()

    def writer() -> None:
        started.set()
        if lock.acquire():
            acquired.set()
            lock.release()

    thread = threading.Thread(target=writer)
    thread.start()
    assert started.wait(5)
    assert not acquired.wait(0.2)  # still held: the other writer waits
    lock.release()
    assert acquired.wait(5)
    thread.join(5)


def test_concurrent_writers_on_two_engines_all_commit(tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engines = [make_engine(url), make_engine(url)]
    upgrade_database(engines[0])
    factories = [make_session_factory(engine) for engine in engines]
    now = utc_now()
    errors: list[BaseException] = []

    def write(factory, count: int) -> None:
        try:
            for n in range(count):
                with factory() as session, session.begin():
                    lifecycle.schedule(session, owner=ALICE, recipient=ALICE, text=f"n{n}",
                                      send_at=now + timedelta(hours=1), now=now)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(factories[i % 2], 50)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with factories[0]() as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 300
    for engine in engines:
        engine.dispose()
    assert os.path.exists(f"{tmp_path / 'bot.db'}.write-lock")


def test_a_forked_child_does_not_inherit_a_held_lock(tmp_path):
    # A lock held by a parent's thread at the fork would never be let go in the child: the child
    # must wait only for the parent's write (the lock file), not for the parent's thread.
    lock = SqliteWriterLock.for_path(str(tmp_path / "bot.db"))
    assert lock.acquire()
    pid = os.fork()
    if pid == 0:
        taken = lock.acquire()  # waits on the lock file until the parent's release below
        os._exit(0 if taken else 1)
    lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
