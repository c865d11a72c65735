"""Where the account's outbound budget lives: one row in the database, or one key in Redis.

Both keep a GCRA "theoretical arrival time" (when the account's next send may go) and change it in
one atomic step: ``reserve(count, interval, not_before)`` moves it to ``max(stored, not_before) +
count * interval`` and returns the instant it was moved from, the first of the ``count`` send slots
just taken (the others follow at ``interval``). A pause is a reserve of nothing that pushes the
instant forward. Instants are whole microseconds since the epoch: added up in floating point near
1.8e9 s, a slot drifts by a rounding error each time, and after a few dozen slots eleven of them fit
in a second at ten a second. Every process that sends for the account takes its slots
here, so together they never send faster than the rate, however many instances and workers there are.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import BigInteger, bindparam, func
from sqlalchemy.exc import SQLAlchemyError

from bot.storage.db import SessionFactory
from bot.storage.models import OutboundBudget
from bot.storage.queries import dialect_module


class BudgetStoreError(Exception):
    """The budget's store did not answer (or could not be used); the caller falls back."""


class BudgetStore(Protocol):
    """An atomic GCRA instant shared by every sending process."""

    description: str  # for the log: "the database", "Redis"

    def reserve(self, count: int, interval: int, not_before: int) -> int:
        """Take ``count`` slots ``interval`` µs apart, none before ``not_before`` (µs); return the first one's."""

    def close(self) -> None:
        """Let go of connections."""


_TABLE = OutboundBudget.__table__


def _reserve_statement(dialect_name: str) -> Any:
    """Build the one upsert that takes slots: a new account's row starts at ``not_before``."""
    latest = func.greatest if dialect_name == "postgresql" else func.max  # SQLite's max(a, b) is scalar
    not_before, span = bindparam("not_before", type_=BigInteger()), bindparam("span", type_=BigInteger())
    return (dialect_module(dialect_name).insert(_TABLE)
            .values(name=bindparam("budget_name"), next_free_us=not_before + span)
            .on_conflict_do_update(index_elements=[_TABLE.c.name],
                                   set_={"next_free_us": latest(_TABLE.c.next_free_us, not_before) + span})
            .returning(_TABLE.c.next_free_us))


class DatabaseBudgetStore:
    """The budget as one row of ``outbound_budgets``, taken with one INSERT ... ON CONFLICT DO UPDATE.

    PostgreSQL runs concurrent upserts of one row one after another, each reading the row as the
    previous one left it; SQLite has one writer at a time. Either way no two processes get the same slot.
    """

    description = "the database"

    def __init__(self, session_factory: SessionFactory, name: str) -> None:
        self.session_factory = session_factory
        self.name = name
        self._statements: dict[str, Any] = {}

    def reserve(self, count: int, interval: int, not_before: int) -> int:
        span = count * interval
        try:
            with self.session_factory() as session, session.begin():
                connection = session.connection()
                dialect = connection.dialect.name
                statement = self._statements.get(dialect)
                if statement is None:
                    statement = self._statements[dialect] = _reserve_statement(dialect)
                after = connection.execute(statement, {"budget_name": self.name, "not_before": not_before,
                                                       "span": span}).scalar_one()
        except SQLAlchemyError as error:
            raise BudgetStoreError(type(error).__name__) from error
        return after - span

    def close(self) -> None:
        pass  # the engine belongs to the bot


# KEYS[1] the budget; ARGV not_before, span (µs). Lua numbers are doubles, exact for integers up to
# 2^53 (µs since the epoch are about 1.8e15). The key expires a minute after its last slot: an idle
# account's budget starts afresh, as a missing row would.
_RESERVE_SCRIPT = """
local not_before = tonumber(ARGV[1])
local start = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), not_before)
local after = start + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.floor((after - not_before) / 1000) + 60000)
return string.format('%d', start)
"""
_REDIS_TIMEOUT_SECONDS = 1.0  # a store slower than this is treated as down: sends must not stall on it


class RedisBudgetStore:
    """The budget as one Redis key, taken with a Lua script (Redis runs a script atomically)."""

    description = "Redis"

    def __init__(self, redis_url: str, name: str) -> None:
        import redis

        self._errors = (redis.RedisError, OSError)
        # The limits library names a Unix socket redis+unix://; redis-py calls it unix://.
        client_url = ("unix://" + redis_url.removeprefix("redis+unix://") if redis_url.startswith("redis+unix://")
                      else redis_url)
        self._client = redis.Redis.from_url(client_url, socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
                                            socket_timeout=_REDIS_TIMEOUT_SECONDS)
        self._script = self._client.register_script(_RESERVE_SCRIPT)  # EVALSHA, loaded again after a restart
        self.key = f"outbound-budget:{name}"

    def reserve(self, count: int, interval: int, not_before: int) -> int:
        try:
            start = self._script(keys=[self.key], args=[not_before, count * interval])
            return int(start)
        except self._errors as error:
            raise BudgetStoreError(type(error).__name__) from error
        except ValueError:  # a key someone else wrote
            raise BudgetStoreError(f"unreadable budget {start!r}") from None

    def close(self) -> None:
        self._client.close()
