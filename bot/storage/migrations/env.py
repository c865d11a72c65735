"""Alembic environment: runs on the connection ``bot.storage.db.upgrade_database`` hands it.

From the command line (``alembic -c bot/storage/migrations/alembic.ini -x url=... upgrade head``)
it opens its own connection and takes the same lock as start-up does.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context

from bot.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # The command line: an edge of the system, so it may read the environment.
    from bot.storage.db import make_engine, migration_lock

    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = (context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
           or os.environ.get("DATABASE_URL"))
    if not url:
        raise SystemExit("Give the database: alembic -x url=postgresql://... or set DATABASE_URL.")
    engine = make_engine(url)
    try:
        with engine.connect() as fresh_connection, migration_lock(fresh_connection):
            _run(fresh_connection)
            fresh_connection.commit()
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
