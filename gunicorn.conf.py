"""Gunicorn settings for production: ``gunicorn 'app:create_app()' -c gunicorn.conf.py``.

Every worker builds its own app, and with it its own dispatcher: the database is the
queue and claims are atomic, so any number of workers (and hosts) share the sending.
This file is an edge of the system, so it reads the environment, after ``.env`` as
``python app.py`` does (variables already set win). Every setting is checked here, in the
master, before any worker starts: a bad one, an unreachable database or Redis stops gunicorn
with one line on stderr and exit status 2. What gunicorn itself takes from them:

    HOST, PORT           where to listen (default 127.0.0.1:5000, as for ``python app.py``; set
                         HOST=0.0.0.0 behind a proxy on another host); ``--bind`` overrides both
    PROMETHEUS_MULTIPROC_DIR  where workers keep their metrics for /metrics to add up (a fresh
                         temporary directory when unset; emptied at start when set)
    WEB_CONCURRENCY      worker processes (default 2)
    GUNICORN_THREADS     request threads per worker (default 4)
    SEND_TIMEOUT_SECONDS the bot's Telnyx timeout; the graceful timeout leaves room for one send
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from typing import Any

from dotenv import load_dotenv

# The bot's packages sit beside this file; gunicorn may have been started from another directory.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from bot.config_check import exit_on_bad_settings, settings_or_exit
from bot.settings import Integer, SettingsError, read_variable

load_dotenv()  # the .env found from this file's directory up, as app.py finds it
settings = settings_or_exit(os.environ)


def _gunicorn_setting(variable: str, rule: Integer, default: int) -> int:
    value = os.environ.get(variable, "").strip()
    return read_variable(variable, value, rule) if value else default


def _metric_files(directory: str) -> tuple[set[str], set[str]]:
    """Return a metrics directory's prometheus_client files and its other ``*.db`` files."""
    metric_files = {path for path in glob.glob(os.path.join(directory, "*_*.db"))
                    if os.path.basename(path).split("_", 1)[0] in ("counter", "gauge", "histogram", "summary")}
    return metric_files, set(glob.glob(os.path.join(directory, "*.db"))) - metric_files


def _check_metrics_directory(directory: str) -> None:
    # prometheus_client reads every *.db file there as its own (and it is emptied at start): the
    # directory must be its alone.
    others = _metric_files(directory)[1] if directory else set()
    if others:
        raise SettingsError("PROMETHEUS_MULTIPROC_DIR", repr(directory), "a directory of its own for the metrics",
                            f"holds other .db files ({os.path.basename(min(others))}, ...)")


with exit_on_bad_settings():
    workers = _gunicorn_setting("WEB_CONCURRENCY", Integer(1, 64), 2)
    threads = _gunicorn_setting("GUNICORN_THREADS", Integer(1, 256), 4)
    _check_metrics_directory(os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip())
bind = f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"
worker_class = "gthread"
# Build the app in each worker, after the fork: the dispatcher's threads (APScheduler, the send
# pool) and the database connections must not be created in the master and inherited.
preload_app = False
# On SIGTERM a worker stops taking requests, then (worker_exit below) stops claiming, lets the sends
# already on the wire finish and releases the claimed rows it had not sent. A send takes at most
# SEND_TIMEOUT_SECONDS, so give it that plus room to record the outcomes before the master kills it.
graceful_timeout = int(settings.send_timeout_seconds) + 20
timeout = 30
keepalive = 5
accesslog = "-"
# Gunicorn 27 (the pinned version) opens a control socket at one path per user (~/.gunicorn/gunicorn.ctl), which two
# servers on one host (blue/green, tests) would fight over; the bot does not use it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Import the provider's SDK once, in the master, before the workers fork.

    Importing it takes about two seconds of CPU (thousands of generated types). Done here, every
    worker inherits the loaded modules and its client is ready at once, instead of each worker
    spending those seconds in a background thread while it already serves requests.
    """
    if settings.telnyx_enabled:
        import telnyx.resources  # noqa: F401 (imported for its side effect: the modules are loaded)
    if settings.twilio_enabled:
        import twilio.rest  # noqa: F401 (the same for Twilio's client)
    _prepare_metrics_directory()


_own_metrics_directory: str | None = None


def _prepare_metrics_directory() -> None:
    # Every worker counts for itself and a scrape reaches one of them, so /metrics would show one
    # worker's share. In prometheus_client's multiprocess mode each worker writes its values to
    # files here and /metrics adds them up. The workers inherit the variable; prometheus_client
    # reads it when a worker first imports it.
    global _own_metrics_directory
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = _own_metrics_directory = tempfile.mkdtemp(prefix="bot-metrics-")
    os.makedirs(directory, exist_ok=True)
    for stale in _metric_files(directory)[0]:  # a previous run's workers (other files: checked at load)
        os.remove(stale)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def on_exit(server: Any) -> None:
    """Remove the metrics directory this master made for itself (one the operator named stays)."""
    if _own_metrics_directory:
        shutil.rmtree(_own_metrics_directory, ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the metrics (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    """Shut the worker's bot down cleanly: finish in-flight sends, release claimed rows."""
    # create_app also registers bot.shutdown with atexit; shutdown is idempotent, and doing it here
    # makes it happen even when the worker leaves through os._exit, where atexit does not run.
    app = getattr(worker, "wsgi", None)
    bot = getattr(app, "extensions", {}).get("bot") if app is not None else None
    if bot is not None:
        bot.shutdown()
