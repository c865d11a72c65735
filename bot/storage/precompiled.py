"""A hot statement compiled once per dialect, so that each execution pays only for its own parameters.

``connection.execute(statement, parameters)`` does the same work on every call before the driver
sees anything: it finds the compiled form in SQLAlchemy's cache (a cache key built from the whole
statement), builds the full parameter set, runs each parameter's type conversion and sets up the
result. For the API's checked INSERT (29 parameters) that was 75 of 180 microseconds of CPU per
request on PostgreSQL (profiled), several times what the driver itself costs. A ``Precompiled``
does the compiling and the lookups once; each call merges its parameters into the statement's own
constants, converts them with the bind processors SQLAlchemy would use (``TypeEngine.bind_processor``)
and runs the SQL string with ``Connection.exec_driver_sql``, so connection events (SQLite's writer
lock, ``bot.storage.db``) and SQLAlchemy's error wrapping stay as they were.

On a ``DriverConnection`` (the units of ``bot.storage.group_commit``: PostgreSQL's lone statements,
SQLite's grouped ones) it goes straight to the driver's cursor instead.

Only for statements without expanding (``IN``) parameters, run many times with the same shape.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import Connection, CursorResult, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement


class DriverConnection:
    """A pooled driver connection on which a ``Precompiled`` statement runs as it is.

    For the units of ``bot.storage.group_commit``: PostgreSQL's lone statements (in autocommit) and
    SQLite's grouped ones (in the group's transaction). Around the driver's own work, SQLAlchemy's
    ``Connection`` (its transaction, execution context and result) cost about 100 us of CPU per
    statement, a quarter of the statement's (measured in one process; bench/README-http.md).
    Errors still come out as SQLAlchemy's, as ``Connection`` raises them (``DBAPIError.instance``:
    an ``IntegrityError`` is an ``IntegrityError``), and a connection the driver lost is
    invalidated, so the pool does not hand it out again. No connection event runs: none is
    registered on a PostgreSQL engine, and SQLite's writer lock is taken by the group
    (``db.take_writer_lock``) before its units run.
    """

    __slots__ = ("dialect", "_connection")

    def __init__(self, connection: PoolProxiedConnection, dialect: Dialect) -> None:
        self.dialect = dialect
        self._connection = connection

    @classmethod
    @contextmanager
    def checked_out(cls, engine: Engine) -> Iterator[DriverConnection]:
        """Check a connection out of ``engine``'s pool (pinged, as ``Engine.connect()`` does); give it back after."""
        dialect = engine.dialect
        try:
            connection = engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:  # raw_connection() lets the driver's own error through
            raise _sqlalchemy_error(dialect, error, None, None, dialect.is_disconnect(error, None, None)) from error
        try:
            yield cls(connection, dialect)
        finally:
            connection.close()  # back to the pool

    def run(self, sql: str, parameters: Any) -> int:
        """Execute ``sql`` with ``parameters`` (in the driver's paramstyle); return how many rows it wrote."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return cursor.rowcount
        except self.dialect.loaded_dbapi.Error as error:
            lost = self.dialect.is_disconnect(error, self._connection.dbapi_connection, cursor)
            if lost:
                self._connection.invalidate(error)
            raise _sqlalchemy_error(self.dialect, error, sql, parameters, lost) from error
        finally:
            cursor.close()


def _sqlalchemy_error(dialect: Dialect, error: Exception, sql: str | None, parameters: Any,
                      lost: bool) -> BaseException:
    # What Engine.connect() and Connection.execute() raise for it, parameters hidden as make_engine has them.
    return DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error, hide_parameters=True,
                               connection_invalidated=lost, dialect=dialect)


# What a statement runs on: SQLAlchemy's Connection, or the driver's (the units of group_commit).
StatementConnection = Connection | DriverConnection


class Precompiled:
    """``statement`` compiled for ``dialect``, run with values for its named parameters (``rowcount``)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a statement with an expanding parameter is rendered anew on each call")
        if compiled.escaped_bind_names:
            raise ValueError("a parameter name the driver needs escaped: " + ", ".join(compiled.escaped_bind_names))
        if compiled.insert_prefetch or compiled.update_prefetch:  # SQLAlchemy computes those per execution
            raise ValueError("a column default computed in Python: give every column a value")
        self.sql = compiled.string
        # The order the driver takes them in (qmark: SQLite), or None when it takes them by name (PostgreSQL).
        self.order: tuple[str, ...] | None = tuple(compiled.positiontup) if compiled.positiontup else None
        # Values the statement carries itself (literal comparisons, the API counters' names): set once.
        self.constants: dict[str, Any] = {name: bind.effective_value for name, bind in compiled.binds.items()
                                          if not bind.required}
        self.required = frozenset(name for name, bind in compiled.binds.items() if bind.required)
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        for name, value in self.constants.items():  # converted once, not on every call
            if name in self.processors:
                self.constants[name] = self.processors.pop(name)(value)

    def rowcount(self, connection: StatementConnection, values: Mapping[str, Any]) -> int:
        """Run the statement on ``connection`` with ``values`` for its parameters; return how many rows it wrote.

        ``values`` may hold more than the statement's parameters; a missing one is a KeyError.
        """
        parameters = {**self.constants, **{name: values[name] for name in self.required}}
        for name, processor in self.processors.items():
            parameters[name] = processor(parameters[name])
        driver_parameters = parameters if self.order is None else tuple(parameters[name] for name in self.order)
        if isinstance(connection, DriverConnection):
            return connection.run(self.sql, driver_parameters)
        result: CursorResult[Any] = connection.exec_driver_sql(self.sql, driver_parameters)
        try:
            return result.rowcount
        finally:
            result.close()
