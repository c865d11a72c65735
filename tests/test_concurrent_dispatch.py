"""Exactly once: several dispatchers on one PostgreSQL database, a SIGKILL, and a claim that outlived its lease.

The threads, processes and SIGKILL run for Telnyx (deduplicated by Idempotency-Key) and for Twilio
(no key: a row taken over is looked up in Twilio's message list before it is sent again).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.delivery.dispatcher import Dispatcher, claim_due
from bot.ids import new_id
from bot.storage.models import Reminder, Status
from bot.settings import load_settings
from bot.timeutil import utc_now
from bot.delivery.transport import TelnyxTransport
from bot.service import make_transport
from tests.conftest import both_providers
from tests.fake_telnyx import FakeTelnyx
from tests.fake_twilio import FakeTwilio
from tests.providers import sending_settings

ROOT = Path(__file__).resolve().parent.parent


def _insert_due(url: str, count: int, due_in: float = 0.0) -> set[str]:
    engine = make_engine(url)
    now = utc_now()
    due = now + timedelta(seconds=due_in)
    ids = {new_id(8) for _ in range(count)}
    rows = [dict(id=i, kind="reminder", source="api", owner=None, recipient=f"+1212555{n:04d}",
                 text=f"m-{i}", zone="UTC", send_at=due, due_at=due, status=Status.SCHEDULED, occurrence=0,
                 attempts=0, created_at=now, owner_notified=False) for n, i in enumerate(sorted(ids))]
    with engine.begin() as connection:
        connection.execute(insert(Reminder), rows)
    engine.dispose()
    return ids


def _assert_each_sent_once(fake: FakeTelnyx, url: str, ids: set[str]) -> None:
    delivered = Counter(m.text.rsplit("m-", 1)[-1] for m in fake.delivered())
    assert set(delivered) == ids, f"missing {len(ids - set(delivered))}"
    assert max(delivered.values()) == 1
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        statuses = Counter(session.scalars(select(Reminder.status)))
    engine.dispose()
    assert statuses == {Status.SENT: len(ids)}


def _dispatcher(url: str, fake: FakeTelnyx | FakeTwilio, provider: str = "telnyx", **overrides) -> Dispatcher:
    settings = load_settings(overrides={"DATABASE_URL": url, **sending_settings(provider, fake.url),
                                        "SEND_TIMEOUT_SECONDS": 5, "OUTBOUND_RATE_PER_SECOND": 0,
                                        "DISPATCH_BATCH_SIZE": 25, **overrides})
    return Dispatcher(make_session_factory(make_engine(url)), make_transport(settings), settings)


@both_providers
@pytest.mark.parametrize("instances", [2, 4])
def test_threaded_dispatchers_send_each_once(pg_url, fake_sms, provider, instances):
    ids = _insert_due(pg_url, 300)
    dispatchers = [_dispatcher(pg_url, fake_sms, provider) for _ in range(instances)]
    start = threading.Barrier(instances)

    def run(dispatcher: Dispatcher) -> None:
        start.wait()
        for _ in range(200):  # bounded
            if dispatcher.tick() == 0:
                break

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for dispatcher in dispatchers:
        dispatcher.stop()
        dispatcher.session_factory.kw["bind"].dispose()
    assert all(d.sent_count > 0 for d in dispatchers), [d.sent_count for d in dispatchers]  # work was shared
    assert len(fake_sms.messages) == 300  # not even a duplicate attempt reached the API
    _assert_each_sent_once(fake_sms, pg_url, ids)


def _worker(url: str, fake: FakeTelnyx | FakeTwilio, lease: float = 30, idle: float = 1.5,
            provider: str = "telnyx") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.dispatch_worker", url, fake.url, str(lease), str(idle)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DISPATCH_WORKER_PROVIDER": provider})


@both_providers
def test_dispatcher_processes_send_each_once(pg_url, fake_sms, provider):
    # Four processes (the threaded test above also tries two): more claimers race for each row.
    ids = _insert_due(pg_url, 300, due_in=3.0)  # all due at the same second, after every worker is up
    workers = [_worker(pg_url, fake_sms, provider=provider) for _ in range(4)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    for worker in workers:
        worker.wait(timeout=120)
        assert worker.returncode == 0, worker.stderr.read()
    assert len(fake_sms.messages) == 300
    _assert_each_sent_once(fake_sms, pg_url, ids)


@both_providers
def test_killed_worker_claims_are_taken_over_after_the_lease(pg_url, provider):
    # The fakes take a message on arrival and answer 0.2 s later: the kill strands sent but unrecorded rows.
    fake = (FakeTwilio if provider == "twilio" else FakeTelnyx)(latency=0.2).start()
    try:
        ids = _insert_due(pg_url, 120)
        victim = _worker(pg_url, fake, lease=4, provider=provider)
        assert victim.stdout.readline().strip() == "ready"
        assert fake.wait_for(lambda sent: len(sent) >= 10, timeout=30)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        engine = make_engine(pg_url)
        with make_session_factory(engine)() as session:
            stranded = session.scalar(select(func.count()).where(Reminder.status == Status.SENDING))
        engine.dispose()
        assert stranded > 0  # the kill left claimed rows behind
        survivor = _worker(pg_url, fake, lease=4, idle=1, provider=provider)
        survivor.wait(timeout=120)
        assert survivor.returncode == 0, survivor.stderr.read()
        _assert_each_sent_once(fake, pg_url, ids)
        if provider == "twilio":  # each stranded row was looked up before it was sent again
            assert len(fake.lookups) >= stranded
    finally:
        fake.stop()


def _sqlite_dispatcher(tmp_path, fake: FakeTelnyx, clock=utc_now) -> Dispatcher:
    url = f"sqlite:///{tmp_path / 'lease.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    settings = load_settings(overrides={"DATABASE_URL": url, "TELNYX_API_KEY": "K", "TELNYX_PHONE_NUMBER":
                                        "+13125550100", "OUTBOUND_RATE_PER_SECOND": 0, "SEND_TIMEOUT_SECONDS": 2})
    return Dispatcher(make_session_factory(engine), TelnyxTransport("K", fake.url, 2.0), settings, clock)


def test_a_claim_whose_lease_ran_out_is_not_sent_if_another_instance_took_the_row(tmp_path, fake_telnyx):
    first = _sqlite_dispatcher(tmp_path, fake_telnyx)
    ids = _insert_due(str(first.session_factory.kw["bind"].url), 1)
    # The first instance claims the row, then its send sits in the queue past the lease...
    [stale] = claim_due(first.session_factory, utc_now(), 10, timedelta(seconds=1))
    later = _sqlite_dispatcher(tmp_path, fake_telnyx, clock=lambda: utc_now() + timedelta(seconds=2))
    assert later.tick() == 1  # ...so a second instance takes the row over and sends it.
    first._process(stale)  # The queued send finally runs: its claim is gone, so it must not send.
    assert len(fake_telnyx.messages) == 1
    _assert_each_sent_once(fake_telnyx, str(first.session_factory.kw["bind"].url), ids)
    for dispatcher in (first, later):
        dispatcher.stop()
        dispatcher.session_factory.kw["bind"].dispose()


def test_a_claim_about_to_run_out_renews_its_lease_before_sending(tmp_path, fake_telnyx):
    dispatcher = _sqlite_dispatcher(tmp_path, fake_telnyx)
    url = str(dispatcher.session_factory.kw["bind"].url)
    ids = _insert_due(url, 1)
    [claim] = claim_due(dispatcher.session_factory, utc_now(), 10, timedelta(seconds=1))
    renewed = []
    fake_telnyx.rule = lambda request: renewed.append(_lease_left(dispatcher, claim.id)) or None
    dispatcher._process(claim)
    assert renewed and renewed[0] > dispatcher.renew_below.total_seconds()  # renewed before the send
    _assert_each_sent_once(fake_telnyx, url, ids)
    dispatcher.stop()
    dispatcher.session_factory.kw["bind"].dispose()


def _lease_left(dispatcher: Dispatcher, reminder_id: str) -> float:
    with dispatcher.session_factory() as session:
        return (session.get(Reminder, reminder_id).lease_until - utc_now()).total_seconds()
