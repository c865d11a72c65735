"""Start-up checks that do I/O: the database answers (or its SQLite file can be written), Redis answers.

``load_settings`` checks what each value says; this checks that what a valid configuration names is
there. Both raise ``SettingsError``. The entry points (``app.py``, ``gunicorn.conf.py``,
``python -m bot``) call ``settings_or_exit``, which turns the error into one line on stderr and exit
status 2 before anything starts.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, NoReturn

from bot.settings import DatabaseUrl, RedisUrl, Settings, SettingsError, load_settings

CONNECT_TIMEOUT_SECONDS = 3  # libpq counts whole seconds, and waits at least 2
EXIT_STATUS = 2  # as argparse and most Unix tools exit on bad usage
_SQLITE_HEADER = b"SQLite format 3\x00"


def check_reachable(settings: Settings, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raise SettingsError unless the database (and Redis, when set) can be used now."""
    check_database(settings.database_url, timeout)
    if settings.redis_url:
        check_redis(settings.redis_url, timeout)


def check_database(database_url: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Connect once to a PostgreSQL database; for SQLite, make sure the file can be created or written."""
    from sqlalchemy.engine import make_url

    from bot.storage.db import normalize_database_url

    url = make_url(normalize_database_url(database_url))
    shown = DatabaseUrl().show(database_url)
    if url.get_backend_name() == "sqlite":
        _check_sqlite_file(os.path.abspath(url.database or ""), shown)
    else:
        _check_server(url, shown, timeout)


def _check_sqlite_file(path: str, shown: str) -> None:
    expected = "a SQLite file in an existing directory this process can write to"
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise SettingsError("DATABASE_URL", shown, expected, f"is in {directory}, which {what}")
    # Try it rather than ask os.access: root passes every permission check, but not a read-only mount.
    # The directory must take new files: the journal, the write and migration lock files beside the database.
    try:
        handle, probe = tempfile.mkstemp(dir=directory, prefix=".bot-write-check-")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise SettingsError("DATABASE_URL", shown, expected,
                            f"is in {directory}, where no file can be created ({error.strerror})") from None
    if not os.path.exists(path):
        return  # created, and migrated, at start-up
    if not os.path.isfile(path):
        raise SettingsError("DATABASE_URL", shown, expected, "names something that is not a regular file")
    try:
        with open(path, "r+b") as database:
            header = database.read(len(_SQLITE_HEADER))
    except OSError as error:
        raise SettingsError("DATABASE_URL", shown, expected, f"cannot be opened for writing ({error.strerror})") from None
    if header and header != _SQLITE_HEADER:
        raise SettingsError("DATABASE_URL", shown, expected, "names a file that is not a SQLite database")


def _check_server(url: Any, shown: str, timeout: float) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    # NullPool: the connection is closed at once, so a gunicorn master forks no open socket to its workers.
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": max(2, round(timeout))})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        reason = _one_line(getattr(error, "orig", None) or error, url.password)
        raise SettingsError("DATABASE_URL", shown, f"a database that accepts connections within {timeout:g} s",
                            f"cannot be used ({reason})") from None
    finally:
        engine.dispose()


def check_redis(redis_url: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """PING Redis once with a short timeout."""
    import redis

    # The limits library names a Unix socket redis+unix://; redis-py calls it unix://.
    client_url = "unix://" + redis_url.removeprefix("redis+unix://") if redis_url.startswith("redis+unix://") else redis_url
    client = redis.Redis.from_url(client_url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as error:
        from urllib.parse import urlsplit

        reason = _one_line(error, urlsplit(redis_url).password)
        raise SettingsError("REDIS_URL", RedisUrl().show(redis_url), f"a Redis server that answers within {timeout:g} s",
                            f"cannot be used ({reason})") from None
    finally:
        client.close()


def _one_line(error: BaseException, secret: str | None) -> str:
    """A driver's message on one line, without a password it may quote, cut to a readable length."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    text = "; ".join(line for line in lines if not line.startswith("(Background on this error"))
    if secret and len(secret) >= 4:  # shorter, and the replacement would mangle ordinary words
        text = text.replace(secret, "***")
    return text if len(text) <= 300 else text[:297] + "..."


def report(error: SettingsError) -> NoReturn:
    """Print ``error`` as one line on stderr and exit with status 2."""
    print(f"configuration error: {error}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_STATUS)


@contextmanager
def exit_on_bad_settings() -> Iterator[None]:
    """Turn a SettingsError raised inside into one line on stderr and exit status 2 (no traceback)."""
    try:
        yield
    except SettingsError as error:
        report(error)


def settings_or_exit(environ: Mapping[str, Any], overrides: Mapping[str, Any] | None = None, *,
                     reachable: bool = True) -> Settings:
    """Return the checked settings, or say in one line which one is wrong and exit with status 2.

    Args:
        reachable: also connect to the database and Redis (``check_reachable``); a tool that uses
            neither passes False.
    """
    try:
        settings = load_settings(environ, overrides)
        if reachable:
            check_reachable(settings)
    except SettingsError as error:
        report(error)
    return settings
