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

Only for statements without expanding (``IN``) parameters, run many times with the same shape.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from sqlalchemy import Connection, CursorResult, Dialect
from sqlalchemy.sql import ClauseElement


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

    def rowcount(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Run the statement on ``connection`` with ``values`` for its parameters; return how many rows it wrote.

        ``values`` may hold more than the statement's parameters; a missing one is a KeyError.
        """
        parameters = {**self.constants, **{name: values[name] for name in self.required}}
        for name, processor in self.processors.items():
            parameters[name] = processor(parameters[name])
        result: CursorResult[Any] = connection.exec_driver_sql(
            self.sql, parameters if self.order is None else tuple(parameters[name] for name in self.order))
        try:
            return result.rowcount
        finally:
            result.close()
