"""SIGTERM with sends in flight: in-flight sends finish, claimed rows go back, a restart sends the rest once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.storage.models import Reminder, Status
from tests.conftest import BOT_NUMBER, wait_until
from tests.fake_telnyx import FakeTelnyx
from tests.signing import WebhookSigner
from tests.test_concurrent_dispatch import _insert_due

ROOT = Path(__file__).resolve().parent.parent
ROWS = 80
CONCURRENCY = 8
LATENCY = 0.5  # 16 sends a second: SIGTERM comes with sends in flight and claimed rows queued
EXIT_WITHIN = 15.0  # seconds; the in-flight sends take LATENCY, the rest is releasing rows


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def slow_telnyx():
    fake = FakeTelnyx(latency=LATENCY).start()
    yield fake
    fake.stop()


def _start_bot(database_url: str, fake: FakeTelnyx, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "TELNYX_API_KEY": "KEY_SHUTDOWN",
                   "TELNYX_PHONE_NUMBER": BOT_NUMBER, "TELNYX_BASE_URL": fake.url,
                   "TELNYX_PUBLIC_KEY": WebhookSigner().public_key, "PORT": str(port),
                   "DISPATCH_CONCURRENCY": str(CONCURRENCY), "OUTBOUND_RATE_PER_SECOND": "0",
                   "DISPATCH_INTERVAL_SECONDS": "0.2", "SEND_TIMEOUT_SECONDS": "5", "PYTHONPATH": str(ROOT)}
    with log.open("a") as output:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=log.parent, env=environment,
                                   stdout=output, stderr=subprocess.STDOUT)
    return process, port


def _statuses(database_url: str) -> dict[str, tuple[str, str | None]]:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return {row.id: (row.status, row.claim_token) for row in session.execute(
                select(Reminder.id, Reminder.status, Reminder.claim_token))}
    finally:
        engine.dispose()


def _terminate(process: subprocess.Popen, log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        pytest.fail(f"no exit within {EXIT_WITHIN}s of SIGTERM:\n{log.read_text()[-3000:]}")
    assert code == 0, log.read_text()[-3000:]


def test_sigterm_finishes_in_flight_sends_and_releases_the_rest(tmp_path, slow_telnyx):
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(database_url)
    upgrade_database(engine)
    engine.dispose()
    ids = _insert_due(database_url, ROWS)
    log = tmp_path / "bot.log"

    first, port = _start_bot(database_url, slow_telnyx, log)
    try:
        assert wait_until(lambda: healthy(port) or first.poll() is not None, timeout=30), log.read_text()
        assert slow_telnyx.wait_for(lambda sent: len(sent) >= CONCURRENCY, timeout=30), log.read_text()
    finally:
        _terminate(first, log)

    after_first = _statuses(database_url)
    sent_by_first = {i for i, (status, _) in after_first.items() if status == Status.SENT}
    assert CONCURRENCY <= len(sent_by_first) < ROWS, "SIGTERM should come with work left"
    assert {status for status, _ in after_first.values()} == {Status.SENT, Status.SCHEDULED}  # none left claimed
    assert all(token is None for _, token in after_first.values())
    delivered = Counter(m.text.rsplit("m-", 1)[-1] for m in slow_telnyx.delivered())
    assert set(delivered) == sent_by_first and max(delivered.values()) == 1  # in-flight sends were recorded
    assert len(slow_telnyx.messages) == len(sent_by_first)  # a released row had not been attempted

    second, _ = _start_bot(database_url, slow_telnyx, log)
    try:
        assert wait_until(lambda: set(_statuses(database_url).values()) == {(Status.SENT, None)}, timeout=45,
                          interval=0.2), log.read_text()[-3000:]
    finally:
        _terminate(second, log)
    delivered = Counter(m.text.rsplit("m-", 1)[-1] for m in slow_telnyx.delivered())
    assert set(delivered) == ids and max(delivered.values()) == 1
    assert len(slow_telnyx.messages) == ROWS  # not even a duplicate attempt
