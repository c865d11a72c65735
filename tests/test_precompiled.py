"""``bot.storage.precompiled``: a statement compiled once writes what SQLAlchemy's own execute writes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import (Boolean, Column, Integer, MetaData, String, Table, and_, bindparam, event, exists, select,
                        text)
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.storage.db import make_engine
from bot.storage.group_commit import runner_for
from bot.storage.models import Kind, UTCDateTime
from bot.storage.precompiled import Precompiled
from bot.storage.queries import dialect_module

metadata = MetaData()
items = Table(
    "precompiled_items", metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("count", Integer, nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("note", String(32)),
)
blocked = Table("precompiled_blocked", metadata, Column("id", String(16), primary_key=True))

# A row and a condition with constants of its own ('x', 3) and one parameter used twice.
COLUMNS = ("id", "kind", "at", "count", "flag", "note")
CONDITION = and_(~exists().where(blocked.c.id == bindparam("check_id")),
                 ~exists().where(blocked.c.id == "x"),
                 bindparam("check_id") != "nothing", bindparam("limit") > 3)


def _checked_insert(dialect_name: str):  # type: ignore[no-untyped-def]
    values = select(*(bindparam(name, type_=items.c[name].type) for name in COLUMNS)).where(CONDITION)
    return (dialect_module(dialect_name).insert(items).from_select(COLUMNS, values).on_conflict_do_nothing()
            .execution_options(preserve_rowcount=True))


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _row(row_id: str, **changes: object) -> dict[str, object]:
    # An aware time in another zone, an enum value, a bool: each needs its bind processing.
    at = datetime(2027, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    return {"id": row_id, "kind": Kind.REMINDER, "at": at, "count": 7, "flag": True, "note": None,
            "check_id": row_id, "limit": 10, **changes}


def _stored(engine) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return {row.id: tuple(row)[1:] for row in connection.execute(select(items))}


def test_it_stores_exactly_what_sqlalchemys_execute_stores(engine):
    statement = _checked_insert(engine.dialect.name)
    precompiled = Precompiled(statement, engine.dialect)
    with engine.begin() as connection:
        assert connection.execute(statement, _row("core")).rowcount == 1
        assert precompiled.rowcount(connection, _row("fast")) == 1
    stored = _stored(engine)
    assert stored["fast"] == stored["core"]
    assert stored["fast"][1] == datetime(2027, 3, 1, 14, 30, tzinfo=timezone.utc)  # stored as UTC


def test_its_condition_and_conflicts_write_nothing(engine):
    precompiled = Precompiled(_checked_insert(engine.dialect.name), engine.dialect)
    with engine.begin() as connection:
        connection.execute(blocked.insert(), [{"id": "b"}])
        assert precompiled.rowcount(connection, _row("a")) == 1
        assert precompiled.rowcount(connection, _row("a", note="again")) == 0  # its id is taken
        assert precompiled.rowcount(connection, _row("b")) == 0  # the condition's parameter
        assert precompiled.rowcount(connection, _row("c", limit=3)) == 0  # a parameter against a constant
        connection.execute(blocked.insert(), [{"id": "x"}])
        assert precompiled.rowcount(connection, _row("d")) == 0  # the condition's own constant
    assert set(_stored(engine)) == {"a"}


def test_the_connections_events_see_it_and_its_errors_are_sqlalchemys(engine):
    precompiled = Precompiled(_checked_insert(engine.dialect.name), engine.dialect)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with engine.begin() as connection:
        precompiled.rowcount(connection, _row("a"))
    assert seen == [precompiled.sql]  # SQLite's writer lock is taken in this event (bot.storage.db)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        precompiled.rowcount(connection, _row("b", count=None))  # NOT NULL
    with pytest.raises(KeyError, match="limit"), engine.begin() as connection:
        precompiled.rowcount(connection, {key: value for key, value in _row("c").items() if key != "limit"})
    assert set(_stored(engine)) == {"a"}


def test_it_refuses_what_would_need_work_on_every_call(engine):
    with pytest.raises(ValueError, match="expanding"):
        Precompiled(select(items.c.id).where(items.c.id.in_(bindparam("ids", expanding=True))), engine.dialect)
    defaulted = Table("precompiled_defaulted", MetaData(), Column("id", Integer, primary_key=True),
                      Column("state", String(8), default="new"))
    with pytest.raises(ValueError, match="default"):
        Precompiled(defaulted.insert().values(id=bindparam("id")), engine.dialect)


def test_text_statements_keep_their_percent_signs(engine):
    precompiled = Precompiled(text("SELECT :a || '%'").bindparams(bindparam("a", type_=String())), engine.dialect)
    with engine.connect() as connection:
        assert precompiled.rowcount(connection, {"a": "50"}) in (-1, 1)  # a SELECT: drivers differ
        assert connection.exec_driver_sql(precompiled.sql, {"a": "50"} if precompiled.order is None
                                          else ("50",)).scalar() == "50%"


# --- on the driver's connection: PostgreSQL's lone statements (bot.storage.group_commit) ---------

@pytest.fixture
def lone(pg_url):  # type: ignore[no-untyped-def]
    engine = make_engine(pg_url)
    metadata.create_all(engine)
    yield runner_for(engine)
    engine.dispose()


def test_on_the_drivers_connection_it_stores_what_sqlalchemy_stores_and_commits_alone(lone):
    dialect = lone.engine.dialect
    statement = _checked_insert(dialect.name)
    precompiled = Precompiled(statement, dialect)
    assert lone.run(lambda connection: precompiled.rowcount(connection, _row("fast"))) == 1
    assert lone.run(lambda connection: precompiled.rowcount(connection, _row("fast", note="again"))) == 0
    with lone.engine.begin() as connection:
        assert connection.execute(statement, _row("core")).rowcount == 1
    stored = _stored(lone.engine)  # read on another connection: the lone statement committed
    assert stored["fast"] == stored["core"]


def test_on_the_drivers_connection_its_errors_are_sqlalchemys_with_the_parameters_hidden(lone):
    precompiled = Precompiled(_checked_insert(lone.engine.dialect.name), lone.engine.dialect)
    with pytest.raises(IntegrityError) as raised:
        lone.run(lambda connection: precompiled.rowcount(connection, _row("a", count=None)))  # NOT NULL
    # As make_engine's hide_parameters has SQLAlchemy's own errors say: the values stay out of logs.
    assert "parameters hidden" in str(raised.value) and not raised.value.connection_invalidated
    assert lone.run(lambda connection: precompiled.rowcount(connection, _row("a"))) == 1  # the connection is fine
    assert set(_stored(lone.engine)) == {"a"}


def test_a_connection_lost_under_a_lone_statement_is_an_outage_and_is_not_handed_out_again(lone):
    from bot.service import database_unavailable

    suicide = Precompiled(text("SELECT pg_terminate_backend(pg_backend_pid())"), lone.engine.dialect)
    with pytest.raises(OperationalError) as raised:
        lone.run(lambda connection: suicide.rowcount(connection, {}))
    assert raised.value.connection_invalidated and database_unavailable(raised.value)
    precompiled = Precompiled(_checked_insert(lone.engine.dialect.name), lone.engine.dialect)
    for row_id in ("a", "b"):  # every connection the pool hands out now works
        assert lone.run(lambda connection: precompiled.rowcount(connection, _row(row_id))) == 1
    assert set(_stored(lone.engine)) == {"a", "b"}


def test_a_database_that_cannot_be_reached_is_an_outage_for_a_lone_statement():
    from bot.service import database_unavailable

    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nothing_listens_here")
    try:
        with pytest.raises(OperationalError) as raised:  # SQLAlchemy's, as Engine.connect() raises it
            runner_for(engine).run(lambda connection: 1)
        assert database_unavailable(raised.value)
    finally:
        engine.dispose()
