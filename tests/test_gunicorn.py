"""Production serving: gunicorn with several workers on PostgreSQL sends each reminder once and stops cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.storage.db import make_engine, make_session_factory
from bot.storage.models import Reminder, Status
from tests.conftest import BOT_NUMBER, wait_until
from tests.signing import WebhookSigner
from tests.test_concurrent_dispatch import _assert_each_sent_once, _insert_due
from tests.test_shutdown import free_port, healthy

ROOT = Path(__file__).resolve().parent.parent
ROWS = 300
WORKERS = 3


def _count_sent(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(func.count()).where(Reminder.status == Status.SENT)) or 0
    finally:
        engine.dispose()


def _scrape(port: int) -> str:
    # A new connection each time, so successive scrapes may reach different workers.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_gunicorn_workers_send_each_reminder_once_and_stop_on_sigterm(pg_url, fake_telnyx, tmp_path):
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is in requirements.txt"
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": pg_url, "TELNYX_API_KEY": "KEY_GUNICORN",
                   "TELNYX_PHONE_NUMBER": BOT_NUMBER, "TELNYX_BASE_URL": fake_telnyx.url,
                   "TELNYX_PUBLIC_KEY": WebhookSigner().public_key, "DISPATCH_INTERVAL_SECONDS": "0.2",
                   "OUTBOUND_RATE_PER_SECOND": "0", "SEND_TIMEOUT_SECONDS": "5", "PYTHONPATH": str(ROOT)}
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [gunicorn, "app:create_app()", "-c", str(ROOT / "gunicorn.conf.py"), "--workers", str(WORKERS),
             "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: healthy(port) or server.poll() is not None, timeout=30), log.read_text()
        assert server.poll() is None, log.read_text()[-3000:]
        ids = _insert_due(pg_url, ROWS, due_in=2.0)
        assert wait_until(lambda: _count_sent(pg_url) == ROWS, timeout=45, interval=0.2), log.read_text()[-3000:]
        # Each worker sent its share; whichever worker answers a scrape reports the total of all.
        for _ in range(2 * WORKERS):
            assert f'bot_messages_sent_total{{kind="reminder"}} {float(ROWS)}' in _scrape(port), _scrape(port)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
            pytest.fail(f"gunicorn did not stop within 30 s of SIGTERM:\n{log.read_text()[-3000:]}")
    assert code == 0, log.read_text()[-3000:]
    assert len(fake_telnyx.messages) == ROWS  # not even a duplicate attempt reached the API
    _assert_each_sent_once(fake_telnyx, pg_url, ids)
    text = log.read_text()
    booted = [line for line in text.splitlines() if "Booting worker" in line]
    assert len(booted) == WORKERS, text[-3000:]  # none crashed and was replaced
    assert len([line for line in text.splitlines() if "Worker exiting" in line]) == WORKERS
    assert "Traceback" not in text and "WORKER TIMEOUT" not in text, text[-3000:]


def test_gunicorn_refuses_a_metrics_directory_that_holds_other_files(tmp_path):
    # prometheus_client would read (and gunicorn.conf.py would empty) every *.db file there.
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn
    shared = tmp_path / "data"
    shared.mkdir()
    database = sqlite3.connect(shared / "reminders.db")  # a real one: start-up checks that it is SQLite
    database.execute("CREATE TABLE kept (value TEXT)")
    database.close()
    stored = (shared / "reminders.db").read_bytes()
    (shared / "counter_123.db").write_bytes(b"")  # a previous run's metrics file: not what is refused
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{shared / 'reminders.db'}",
                   "PROMETHEUS_MULTIPROC_DIR": str(shared), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [gunicorn, "app:create_app()", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{free_port()}"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("configuration error: PROMETHEUS_MULTIPROC_DIR=") and "Traceback" not in result.stderr
    assert "holds other .db files (reminders.db, ...)" in result.stderr
    assert (shared / "reminders.db").read_bytes() == stored
