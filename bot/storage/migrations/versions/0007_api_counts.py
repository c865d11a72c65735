"""Running counts of the API's messages, kept by triggers, for its limits (issue 16).

- ``api_counts`` (``bot.storage.models.ApiCount``): the API's pending messages, and the messages
  it created per 5-minute and per hour bucket. Triggers on ``reminders`` keep them for every row
  with ``source = 'api'`` on insert, on a status change into or out of pending, and on delete, so
  no code path can forget one. The API's limit checks read a few of these rows instead of walking
  an index up to the limit (10,000 entries at the default API_MAX_PENDING).
- The counts start from the rows already stored.

No stored row changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import time
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from bot.storage.models import (API_COUNT_DAY_BUCKET, API_COUNT_DAY_SLOTS, API_COUNT_HOUR_BUCKET,
                                API_COUNT_HOUR_SLOTS, API_COUNT_SHARDS)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PENDING = "('scheduled', 'sending')"  # bot.storage.models.PENDING, frozen as this migration wrote it
# (counter, bucket length in seconds, slots in its ring)
WINDOWS = (("hour", API_COUNT_HOUR_BUCKET, API_COUNT_HOUR_SLOTS), ("day", API_COUNT_DAY_BUCKET, API_COUNT_DAY_SLOTS))


def _epoch_seconds(column: str, dialect: str) -> str:
    """SQL for a naive-UTC timestamp column as whole seconds since the epoch."""
    if dialect == "postgresql":
        return f"CAST(floor(extract(epoch FROM {column})) AS bigint)"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def _bump_window(counter: str, bucket: int, slots: int, seconds: str, shard: str, dialect: str) -> str:
    """An upsert adding one to ``counter``'s bucket for ``seconds``; a slot a lap old starts again from 1."""
    greatest = "greatest" if dialect == "postgresql" else "max"
    return (f"INSERT INTO api_counts (counter, slot, shard, starts, n) "
            f"VALUES ('{counter}', ({seconds} / {bucket}) % {slots}, {shard}, {seconds} / {bucket}, 1) "
            f"ON CONFLICT (counter, slot, shard) DO UPDATE SET "
            f"n = CASE WHEN api_counts.starts = excluded.starts THEN api_counts.n + 1 "
            f"WHEN api_counts.starts < excluded.starts THEN 1 ELSE api_counts.n END, "
            f"starts = {greatest}(api_counts.starts, excluded.starts);")


def _add_pending(shard: str, amount: str) -> str:
    return (f"INSERT INTO api_counts (counter, slot, shard, starts, n) "
            f"VALUES ('pending', 0, {shard}, 0, {amount}) "
            f"ON CONFLICT (counter, slot, shard) DO UPDATE SET n = api_counts.n + excluded.n;")


def _sqlite_triggers() -> list[str]:
    seconds = _epoch_seconds("NEW.created_at", "sqlite")
    windows = " ".join(_bump_window(name, bucket, slots, seconds, "0", "sqlite") for name, bucket, slots in WINDOWS)
    # SQLite has one writer at a time: nothing to spread, every count is on shard 0.
    return [
        f"CREATE TRIGGER api_counts_on_insert AFTER INSERT ON reminders WHEN NEW.source = 'api' BEGIN "
        f"INSERT INTO api_counts (counter, slot, shard, starts, n) "
        f"SELECT 'pending', 0, 0, 0, 1 WHERE NEW.status IN {PENDING} "
        f"ON CONFLICT (counter, slot, shard) DO UPDATE SET n = api_counts.n + 1; {windows} END",
        f"CREATE TRIGGER api_counts_on_update AFTER UPDATE OF status ON reminders "
        f"WHEN NEW.source = 'api' AND (OLD.status IN {PENDING}) <> (NEW.status IN {PENDING}) BEGIN "
        f"{_add_pending('0', f'CASE WHEN NEW.status IN {PENDING} THEN 1 ELSE -1 END')} END",
        f"CREATE TRIGGER api_counts_on_delete AFTER DELETE ON reminders "
        f"WHEN OLD.source = 'api' AND OLD.status IN {PENDING} BEGIN {_add_pending('0', '-1')} END",
    ]


def _postgresql_triggers() -> list[str]:
    # A row's counts go to the shard of its id, whatever the change: concurrent transactions (the
    # dispatcher's 32 senders each finish one row) spread over the shard rows' locks. Every change of
    # an API row out of or into pending is a one-row transaction (bot.storage.lifecycle), so no two
    # transactions can take two shard locks in opposite orders.
    shard = f"ascii(NEW.id) % {API_COUNT_SHARDS}"
    windows = " ".join(_bump_window(name, bucket, slots, "seconds", shard, "postgresql")
                       for name, bucket, slots in WINDOWS)
    return [
        f"""CREATE FUNCTION api_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            seconds bigint;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                seconds := {_epoch_seconds('NEW.created_at', 'postgresql')};
                IF NEW.status IN {PENDING} THEN
                    {_add_pending(shard, '1')}
                END IF;
                {windows}
            ELSIF TG_OP = 'UPDATE' THEN
                {_add_pending(shard, f'CASE WHEN NEW.status IN {PENDING} THEN 1 ELSE -1 END')}
            ELSE
                {_add_pending(f"ascii(OLD.id) % {API_COUNT_SHARDS}", '-1')}
            END IF;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER api_counts_on_insert AFTER INSERT ON reminders FOR EACH ROW "
        "WHEN (NEW.source = 'api') EXECUTE FUNCTION api_counts_track()",
        f"CREATE TRIGGER api_counts_on_update AFTER UPDATE OF status ON reminders FOR EACH ROW "
        f"WHEN (NEW.source = 'api' AND (OLD.status IN {PENDING}) IS DISTINCT FROM (NEW.status IN {PENDING})) "
        f"EXECUTE FUNCTION api_counts_track()",
        f"CREATE TRIGGER api_counts_on_delete AFTER DELETE ON reminders FOR EACH ROW "
        f"WHEN (OLD.source = 'api' AND OLD.status IN {PENDING}) EXECUTE FUNCTION api_counts_track()",
    ]


def _count_stored_rows(dialect: str) -> None:
    """Start the counts from the rows already stored (the triggers count from here on)."""
    op.execute(f"INSERT INTO api_counts (counter, slot, shard, starts, n) SELECT 'pending', 0, 0, 0, count(*) "
               f"FROM reminders WHERE source = 'api' AND status IN {PENDING}")
    now = int(time.time())
    seconds = _epoch_seconds("created_at", dialect)
    for name, bucket, slots in WINDOWS:
        first = now // bucket - slots + 1  # the ring's oldest bucket: each of its slots is used once
        since = datetime.fromtimestamp(first * bucket, timezone.utc).replace(tzinfo=None)
        op.get_bind().execute(sa.text(
            f"INSERT INTO api_counts (counter, slot, shard, starts, n) "
            f"SELECT '{name}', bucket % {slots}, 0, bucket, count(*) FROM "
            f"(SELECT {seconds} / {bucket} AS bucket FROM reminders WHERE source = 'api' AND created_at >= :since) "
            f"AS recent WHERE bucket >= :first GROUP BY bucket"), {"since": since, "first": first})


def upgrade() -> None:
    op.create_table(
        "api_counts",
        sa.Column("counter", sa.String(8), primary_key=True),
        sa.Column("slot", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("shard", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("starts", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    _count_stored_rows(dialect)
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    for name in ("api_counts_on_insert", "api_counts_on_update", "api_counts_on_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON reminders" if op.get_bind().dialect.name == "postgresql"
                   else f"DROP TRIGGER IF EXISTS {name}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS api_counts_track()")
    op.drop_table("api_counts")
