"""Telnyx failures: retried with backoff (honouring Retry-After), or failed at once; the owner is told.

And the outbound rate: the per-instance limit holds, and a 429 holds back every send, not just its own.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.storage import lifecycle
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.delivery.dispatcher import Dispatcher
from bot.storage.models import Reminder, Status
from bot.settings import load_settings
from bot.timeutil import utc_now
from bot.delivery.transport import TelnyxTransport
from tests.conftest import ALICE, BOB, BOT_NUMBER, wait_until
from tests.fake_telnyx import Reply


@pytest.fixture
def make_delivery(tmp_path, fake_telnyx):
    made = []

    def make(**overrides):
        settings = load_settings(overrides={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "TELNYX_API_KEY": "KEY_X",
            "TELNYX_PHONE_NUMBER": BOT_NUMBER, "RETRY_BASE_SECONDS": 0.05, "RETRY_MAX_SECONDS": 0.2,
            "MAX_SEND_ATTEMPTS": 4, "SEND_TIMEOUT_SECONDS": 0.5, "OUTBOUND_RATE_PER_SECOND": 0, **overrides,
        })
        engine = make_engine(settings.database_url)
        upgrade_database(engine)
        dispatcher = Dispatcher(make_session_factory(engine), TelnyxTransport(
            "KEY_X", fake_telnyx.url, settings.send_timeout_seconds), settings)
        made.append((dispatcher, engine))
        return dispatcher

    yield make
    for dispatcher, engine in made:
        dispatcher.stop()
        engine.dispose()


@pytest.fixture
def delivery(make_delivery):
    return make_delivery()


def _queue(dispatcher, owner=ALICE, recipient=BOB, text="hello"):
    now = utc_now()
    with dispatcher.session_factory() as session, session.begin():
        return lifecycle.schedule(session, owner=owner, recipient=recipient, text=text, send_at=now, now=now).id


def _row(dispatcher, reminder_id):
    with dispatcher.session_factory() as session:
        return session.get(Reminder, reminder_id)


def _run_until(dispatcher, condition, timeout=10.0):
    """Tick the dispatcher (as its clock would) until ``condition()`` holds."""
    return wait_until(lambda: dispatcher.tick() >= 0 and condition(), timeout=timeout, interval=0.02)


def test_429_with_retry_after_is_retried_after_the_pause(delivery, fake_telnyx):
    fake_telnyx.push(Reply(429, headers={"Retry-After": "1"}))
    reminder_id = _queue(delivery)
    assert _run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.SENT)
    attempts = fake_telnyx.messages
    assert [m.status for m in attempts] == [429, 200]
    assert attempts[1].received_at - attempts[0].received_at >= 0.95  # Retry-After honoured
    assert attempts[0].idempotency_key == attempts[1].idempotency_key  # Telnyx can dedupe the retry


def test_5xx_and_timeouts_are_retried_then_sent(delivery, fake_telnyx):
    fake_telnyx.push(Reply(500), Reply(503), Reply(200, delay=1.5))  # the third times out client-side
    reminder_id = _queue(delivery)
    assert _run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.SENT)
    assert [m.status for m in fake_telnyx.messages][:2] == [500, 503]
    # The timed-out attempt may have gone through; the retry carries the same Idempotency-Key.
    assert len(fake_telnyx.delivered(BOB)) == 1


def test_permanent_4xx_fails_at_once_and_tells_the_owner(delivery, fake_telnyx):
    fake_telnyx.push(Reply(400, body={"errors": [{"code": "40310", "title": "Invalid 'to' address"}]}))
    reminder_id = _queue(delivery)
    assert _run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.FAILED)
    row = _row(delivery, reminder_id)
    assert "40310" in row.error and row.owner_notified
    assert _run_until(delivery, lambda: len(fake_telnyx.delivered(ALICE)) == 1)
    notice = fake_telnyx.delivered(ALICE)[0].text
    assert f"#{reminder_id}" in notice and "could not be delivered" in notice
    assert len([m for m in fake_telnyx.messages if m.to == BOB]) == 1  # no retry of a permanent error


def test_exhausted_retries_fail_and_notify_once(delivery, fake_telnyx):
    fake_telnyx.rule = lambda request: Reply(500) if request.get("to") == BOB else None
    reminder_id = _queue(delivery)
    assert _run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.FAILED)
    assert len([m for m in fake_telnyx.messages if m.to == BOB]) == 4  # MAX_SEND_ATTEMPTS
    assert _run_until(delivery, lambda: len(fake_telnyx.delivered(ALICE)) >= 1)
    delivery.tick()
    assert len(fake_telnyx.delivered(ALICE)) == 1


def test_owner_is_not_told_when_they_are_the_unreachable_one(delivery, fake_telnyx):
    fake_telnyx.push(Reply(400, body={"errors": [{"code": "40300", "title": "Blocked due to STOP message"}]}))
    reminder_id = _queue(delivery, owner=ALICE, recipient=ALICE)
    assert _run_until(delivery, lambda: _row(delivery, reminder_id).status == Status.FAILED)
    assert _row(delivery, reminder_id).error == "opted_out"
    delivery.tick()
    assert len(fake_telnyx.messages) == 1


def test_recurring_reminder_is_rescheduled_in_the_same_transaction(delivery, fake_telnyx):
    now = utc_now()
    with delivery.session_factory() as session, session.begin():
        reminder = lifecycle.schedule(session, owner=ALICE, recipient=ALICE, text="stretch",
                                     send_at=now - timedelta(days=3, minutes=10), now=now,
                                     zone="America/New_York", recurrence="FREQ=DAILY")
        reminder_id = reminder.id
    assert _run_until(delivery, lambda: len(fake_telnyx.delivered(ALICE)) == 1)
    row = _row(delivery, reminder_id)
    assert row.status == Status.SCHEDULED and row.occurrence == 1
    assert utc_now() < row.send_at <= utc_now() + timedelta(days=1)  # missed ones collapse into one
    assert "late, was due" in fake_telnyx.delivered(ALICE)[0].text
    delivery.tick()
    assert len(fake_telnyx.delivered(ALICE)) == 1


def _queue_many(dispatcher, count):
    now = utc_now()
    with dispatcher.session_factory() as session, session.begin():
        return [lifecycle.schedule(session, owner=None, recipient=f"+1646555{n:04d}", text=f"bulk {n}", send_at=now,
                                  now=now, source="api").id for n in range(count)]


def _all_sent(dispatcher, ids):
    with dispatcher.session_factory() as session:
        return all(session.get(Reminder, i).status == Status.SENT for i in ids)


def test_outbound_rate_limit_is_respected(make_delivery, fake_telnyx):
    dispatcher = make_delivery(OUTBOUND_RATE_PER_SECOND=20, DISPATCH_CONCURRENCY=8)
    ids = _queue_many(dispatcher, 40)
    assert _run_until(dispatcher, lambda: _all_sent(dispatcher, ids), timeout=20)
    times = sorted(m.received_at for m in fake_telnyx.delivered())
    assert len(times) == 40
    assert times[-1] - times[0] >= 1.5  # 40 at 20/s: about 1.95 s with the tokens handed out evenly
    # No one-second window holds more than the rate (plus the one-token burst and some timing slack).
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 23


def test_429_pauses_every_send_for_retry_after(make_delivery, fake_telnyx):
    fake_telnyx.latency = 0.05
    dispatcher = make_delivery(DISPATCH_CONCURRENCY=4)  # no rate limit: the pause alone holds sends back
    fake_telnyx.push(Reply(429, headers={"Retry-After": "1"}))
    ids = _queue_many(dispatcher, 30)
    assert _run_until(dispatcher, lambda: _all_sent(dispatcher, ids), timeout=20)
    throttled = next(m for m in fake_telnyx.messages if m.status == 429)
    answered = [m.received_at - throttled.received_at for m in fake_telnyx.messages if m.status == 200]
    assert len(answered) == 30  # the throttled one was retried, once, and nothing else went twice
    # Sends already on the wire when the 429 came back still land (at most the other three threads);
    # after that nothing reaches Telnyx until Retry-After has passed.
    assert len([t for t in answered if t < 0.3]) <= 3
    assert not [t for t in answered if 0.3 <= t < 0.95]
