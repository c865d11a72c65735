"""Migrations keep every stored reminder: a database made by the first migration upgrades to head intact."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, insert, select, text

from bot.storage.db import alembic_config, make_engine, upgrade_database

ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "bot" / "storage" / "migrations" / "alembic.ini"
SCRIPTS = ScriptDirectory.from_config(alembic_config())
FIRST = SCRIPTS.get_base()
HEAD = SCRIPTS.get_current_head()
MOMENT = datetime(2026, 11, 23, 12, 0, 0)  # stored naive UTC, as UTCDateTime does

REMINDERS = [
    dict(id=f"r{n:03d}", kind="reminder", source="sms", owner="+12125550147", recipient="+16465550199",
         text=f"water the plants #{n} — ünïcode ✓", zone="America/New_York",
         recurrence="FREQ=DAILY" if n % 2 else None, send_at=MOMENT, due_at=MOMENT,
         status=("scheduled", "sending", "sent", "failed", "cancelled")[n % 5], occurrence=n, attempts=n % 3,
         claim_token=None, lease_until=None, created_at=MOMENT, sent_at=None, cancelled_at=None,
         provider_message_id=f"p-{n}" if n % 5 == 2 else None, delivery_status=None, error=None,
         owner_notified=False, idempotency_key=f"key-{n}")
    for n in range(25)
]
CONTACT = dict(number="+16465550199", timezone="America/New_York", opted_out_at=None, introduced_at=MOMENT,
               refused_at=None, last_reminder_id="r002")
INBOUND = dict(message_id="in-1", event_id="ev-1", sender="+12125550147", received_at=MOMENT, command="remind")


def _tables(engine: Engine) -> MetaData:
    """Reflect the schema as it is now, so the rows fit the first migration's columns, not the model's."""
    metadata = MetaData()
    metadata.reflect(engine)
    return metadata


def _version(engine: Engine) -> str:
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


def test_upgrade_from_the_first_migration_keeps_every_row(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_database(engine, FIRST)
        assert _version(engine) == FIRST
        tables = _tables(engine).tables
        with engine.begin() as connection:
            connection.execute(insert(tables["reminders"]), REMINDERS)
            connection.execute(insert(tables["contacts"]), [CONTACT])
            connection.execute(insert(tables["inbound_messages"]), [INBOUND])

        upgrade_database(engine, "head")
        upgrade_database(engine, "head")  # a second start-up finds nothing to do

        assert _version(engine) == HEAD
        tables = _tables(engine).tables
        with engine.connect() as connection:
            for name, expected in (("reminders", REMINDERS), ("contacts", [CONTACT]),
                                   ("inbound_messages", [INBOUND])):
                table = tables[name]
                columns = [table.c[column] for column in expected[0]]
                stored = [dict(row._mapping) for row in connection.execute(
                    select(*columns).order_by(columns[0]))]
                assert [_naive(row) for row in stored] == expected, name
    finally:
        engine.dispose()


def _naive(row: dict) -> dict:
    """PostgreSQL and SQLite both hand back what was stored; drop a zone if a driver adds one."""
    return {key: value.astimezone(timezone.utc).replace(tzinfo=None)
            if isinstance(value, datetime) and value.tzinfo else value for key, value in row.items()}


def test_alembic_command_line_upgrades_and_reports_the_head(database_url):
    url = database_url.replace("postgresql+psycopg://", "postgresql://")  # bare URLs work too
    alembic = [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "-x", f"url={url}"]
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    upgrade = subprocess.run([*alembic, "upgrade", "head"], cwd="/", env=environment, capture_output=True,
                             text=True, timeout=60)
    assert upgrade.returncode == 0, upgrade.stderr
    current = subprocess.run([*alembic, "current"], cwd="/", env=environment, capture_output=True, text=True,
                             timeout=60)
    assert current.returncode == 0, current.stderr
    assert f"{HEAD} (head)" in current.stdout
    engine = make_engine(database_url)
    try:
        assert _version(engine) == HEAD
        assert {"reminders", "contacts", "inbound_messages"} <= set(_tables(engine).tables)
    finally:
        engine.dispose()


def test_instances_starting_together_on_a_new_sqlite_file_all_come_up(tmp_path):
    # gunicorn workers build their apps at once; each upgrades the schema at start-up.
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    script = "import sys; from bot.storage.db import make_engine, upgrade_database; upgrade_database(make_engine(sys.argv[1]))"
    starts = [subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(4)]
    for process in starts:
        assert process.wait(timeout=60) == 0, process.stderr.read()
    engine = make_engine(url)
    try:
        assert _version(engine) == ScriptDirectory.from_config(alembic_config()).get_current_head()
    finally:
        engine.dispose()


def test_the_anchor_migration_anchors_each_series_on_its_stored_occurrence(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_database(engine, "0001")
        tables = _tables(engine).tables
        with engine.begin() as connection:
            connection.execute(insert(tables["reminders"]), REMINDERS)
        upgrade_database(engine, "0002")
        tables = _tables(engine).tables
        reminders = tables["reminders"]
        with engine.connect() as connection:
            rows = {row.id: row for row in connection.execute(
                select(reminders.c.id, reminders.c.series_anchor, reminders.c.series_sent, reminders.c.outbound_text))}
        for reminder in REMINDERS:
            row = rows[reminder["id"]]
            # 12:00 UTC on 2026-11-23 is 07:00 in New York: the wall time the series keeps from now on.
            expected = datetime(2026, 11, 23, 7, 0) if reminder["recurrence"] else None
            assert (row.series_anchor, row.series_sent, row.outbound_text) == (expected, 0, None), reminder["id"]
    finally:
        engine.dispose()


def test_the_models_match_the_migrations(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.storage.models import Base

    engine = make_engine(database_url)
    try:
        upgrade_database(engine, "head")
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        engine.dispose()
