"""Group commit on SQLite (``bot.storage.group_commit``): queued writes share a transaction, and nothing else changes.

The writer lock is held by the test to make a group form: the runner's thread takes the first
unit and waits for the lock; the units queued meanwhile go in together once it is let go.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.storage.db import SqliteWriterLock, make_engine
from bot.storage.group_commit import GroupCommit, LoneStatement, OwnTransaction, runner_for
from bot.storage.precompiled import DriverConnection, Precompiled
from tests.conftest import wait_until


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/group.db")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE items (name TEXT PRIMARY KEY)"))
    yield engine
    engine.dispose()


def _insert(name: str):
    # A unit runs Precompiled statements on the driver's connection, whatever the runner.
    def work(connection: DriverConnection) -> str:
        Precompiled(text("INSERT INTO items (name) VALUES (:name)"), connection.dialect).rowcount(
            connection, {"name": name})
        return name
    return work


def _stored(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT name FROM items")).scalars())


def _grouped_behind_the_lock(engine, runner: GroupCommit, works: list, pool: ThreadPoolExecutor) -> list:
    """Hold the writer lock while a first unit and then ``works`` are queued; return the futures."""
    lock = SqliteWriterLock.for_path(engine.url.database)
    assert lock.acquire()
    try:
        first = pool.submit(runner.run, _insert("first"))
        assert wait_until(lambda: runner.transactions == 1, timeout=10)  # its thread waits for the lock
        futures = [pool.submit(runner.run, work) for work in works]
        assert wait_until(lambda: runner._queue.qsize() == len(works), timeout=10)
    finally:
        lock.release()
    assert first.result(timeout=30) == "first"
    return futures


def test_writes_queued_together_share_one_transaction(engine):
    runner = runner_for(engine)
    assert isinstance(runner, GroupCommit) and runner_for(engine) is runner
    names = [f"item-{n}" for n in range(20)]
    with ThreadPoolExecutor(len(names) + 1) as pool:
        futures = _grouped_behind_the_lock(engine, runner, [_insert(name) for name in names], pool)
        assert [future.result(timeout=30) for future in futures] == names  # each caller gets its own answer
    assert runner.transactions == 2  # the first alone, then the twenty together
    assert _stored(engine) == {"first", *names}


def test_a_failing_write_fails_alone(engine):
    runner = runner_for(engine)
    with ThreadPoolExecutor(4) as pool:
        futures = _grouped_behind_the_lock(engine, runner, [_insert("a"), _insert("first"), _insert("b")], pool)
        assert futures[0].result(timeout=30) == "a" and futures[2].result(timeout=30) == "b"
        with pytest.raises(IntegrityError):  # "first" is stored already: the caller gets the database's error
            futures[1].result(timeout=30)
    assert runner.transactions == 2 + 3  # the group rolled back, then each ran alone
    assert _stored(engine) == {"first", "a", "b"}


def test_a_later_write_sees_the_earlier_ones_of_its_group(engine):
    runner = runner_for(engine)
    # Each unit names its row after the rows it sees (as the API's INSERT counts those queued ahead of it).
    counted = Precompiled(text("INSERT INTO items (name) SELECT 'after-' || count(*) FROM items"), engine.dialect)

    def count_then_insert(connection: DriverConnection) -> int:
        return counted.rowcount(connection, {})

    with ThreadPoolExecutor(6) as pool:
        futures = _grouped_behind_the_lock(engine, runner, [count_then_insert] * 5, pool)
        assert [future.result(timeout=30) for future in futures] == [1] * 5
    assert runner.transactions == 2  # the first unit's, and one for the five
    assert _stored(engine) == {"first", *(f"after-{seen}" for seen in range(1, 6))}


def test_many_threads_lose_nothing(engine):
    runner = runner_for(engine)
    names = [f"n{n}" for n in range(400)]
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(lambda name: runner.run(_insert(name)), names)) == names
    assert _stored(engine) == set(names)
    assert runner.transactions <= len(names)


def test_the_thread_ends_when_idle_and_starts_again(engine):
    runner = runner_for(engine)
    runner.IDLE_SECONDS = 0.05
    assert runner.run(_insert("one")) == "one"
    assert wait_until(lambda: not runner._serving, timeout=10)  # its thread has returned
    assert runner.run(_insert("two")) == "two"
    assert _stored(engine) == {"one", "two"}


def test_other_databases_run_each_write_in_its_own_transaction(database_url, tmp_path):
    memory = make_engine("sqlite://")
    assert isinstance(runner_for(memory), OwnTransaction)
    engine = make_engine(database_url)
    try:
        runner = runner_for(engine)
        assert isinstance(runner, GroupCommit if engine.dialect.name == "sqlite" else LoneStatement)
        table = f"group_{tmp_path.name[-8:].replace('-', '_')}"
        with engine.begin() as connection:
            connection.execute(text(f"CREATE TABLE {table} (name VARCHAR(20) PRIMARY KEY)"))
        try:
            assert runner.run(lambda connection: Precompiled(
                text(f"INSERT INTO {table} (name) VALUES ('x')"), connection.dialect).rowcount(connection, {})) == 1
            with engine.connect() as connection:  # committed: another connection sees it
                assert connection.execute(text(f"SELECT name FROM {table}")).scalars().all() == ["x"]
        finally:
            with engine.begin() as connection:
                connection.execute(text(f"DROP TABLE {table}"))
    finally:
        engine.dispose()
        memory.dispose()


def test_a_lone_statement_commits_its_triggers_with_it_on_a_pool_of_its_own(pg_url):
    """PostgreSQL: a unit runs in autocommit, all or nothing, on the autocommit twin.

    The engine's own pool stays transactional.
    """
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)  # one connection: the next use is the same one
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE items (name VARCHAR(20) PRIMARY KEY)"))
            connection.execute(text("CREATE TABLE seen (n INTEGER NOT NULL)"))
            connection.execute(text("INSERT INTO seen VALUES (0)"))
            connection.execute(text(
                "CREATE FUNCTION count_item() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "UPDATE seen SET n = n + 1; IF NEW.name = 'bad' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NULL; END $$"))
            connection.execute(text("CREATE TRIGGER count_item AFTER INSERT ON items FOR EACH ROW "
                                    "EXECUTE FUNCTION count_item()"))
        runner = runner_for(engine)
        assert isinstance(runner, LoneStatement)
        assert runner.engine is not engine and runner_for(engine).engine is runner.engine  # one twin per engine
        assert runner.run(_insert("good")) == "good"
        with pytest.raises(Exception, match="refused"):  # the trigger fails after the row went in
            runner.run(_insert("bad"))
        with pytest.raises(IntegrityError):
            runner.run(_insert("good"))
        assert runner.run(_insert("after")) == "after"  # a failed statement left no transaction behind
        with engine.connect() as connection:
            assert connection.execute(text("SELECT name FROM items ORDER BY name")).scalars().all() == ["after", "good"]
            assert connection.execute(text("SELECT n FROM seen")).scalar() == 2  # the failed trigger's update went too
        with engine.connect() as connection:  # the engine's one connection is in transaction mode
            connection.execute(text("INSERT INTO items VALUES ('rolled back')"))
            connection.rollback()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM items")).scalar() == 2
        twin_pool = runner.engine.pool
        assert twin_pool.checkedin() == 1  # the twin kept its connection for the next statement
        engine.dispose()
        assert twin_pool.checkedin() == 0  # and closed it with the engine
    finally:
        engine.dispose()
