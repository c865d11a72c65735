"""Repeating reminders through the dispatcher, on a clock the test moves: counts end, failures don't."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.series import Series, upcoming
from bot.storage import lifecycle
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.delivery.dispatcher import Dispatcher, claim_due
from bot.storage.models import Reminder, Status
from bot.settings import load_settings
from bot.delivery.transport import TelnyxTransport
from tests.conftest import ALICE, BOB, BOT_NUMBER, SetClock
from tests.fake_telnyx import Reply

START = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)  # 3pm in New York


@pytest.fixture
def clock():
    return SetClock(START)


@pytest.fixture
def dispatcher(tmp_path, fake_telnyx, clock):
    settings = load_settings(overrides={
        "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "TELNYX_API_KEY": "KEY_X",
        "TELNYX_PHONE_NUMBER": BOT_NUMBER, "MAX_SEND_ATTEMPTS": 2, "RETRY_BASE_SECONDS": 0.01,
        "RETRY_MAX_SECONDS": 0.01, "SEND_TIMEOUT_SECONDS": 2, "OUTBOUND_RATE_PER_SECOND": 0,
    })
    engine = make_engine(settings.database_url)
    upgrade_database(engine)
    made = Dispatcher(make_session_factory(engine), TelnyxTransport("KEY_X", fake_telnyx.url, 2), settings, clock)
    yield made
    made.stop()
    engine.dispose()


def _add(dispatcher, rule: str, owner=ALICE, recipient=BOB) -> str:
    with dispatcher.session_factory() as session, session.begin():
        return lifecycle.schedule(session, owner=owner, recipient=recipient, text="water plants", send_at=START,
                                 now=START - timedelta(hours=1), zone="America/New_York", recurrence=rule).id


def _row(dispatcher, reminder_id) -> Reminder:
    with dispatcher.session_factory() as session:
        return session.get(Reminder, reminder_id)


def _run_day_by_day(dispatcher, clock, days: int) -> None:
    for day in range(days):
        clock.now = START + timedelta(days=day, seconds=1)
        for _ in range(5):  # bounded: a failed first attempt is retried within the same day
            dispatcher.tick()
            clock.now += timedelta(seconds=1)


def test_a_count_ends_the_series(dispatcher, clock, fake_telnyx):
    reminder_id = _add(dispatcher, "FREQ=DAILY;COUNT=3")
    _run_day_by_day(dispatcher, clock, 6)
    assert len(fake_telnyx.delivered(BOB)) == 3
    row = _row(dispatcher, reminder_id)
    assert row.status == Status.SENT and row.occurrence == 2


def test_missed_occurrences_count_against_the_series(dispatcher, clock, fake_telnyx):
    reminder_id = _add(dispatcher, "FREQ=DAILY;COUNT=5")
    clock.now = START + timedelta(days=2, hours=1)  # down for two days: the 1st and 2nd were missed
    dispatcher.tick()
    assert len(fake_telnyx.delivered(BOB)) == 1
    row = _row(dispatcher, reminder_id)
    assert row.recurrence == "FREQ=DAILY;COUNT=5"  # the rule is never re-based: COUNT counts from the anchor
    assert row.send_at == START + timedelta(days=3)
    left = upcoming(Series(row.recurrence, row.series_anchor, row.zone), row.send_at - timedelta(seconds=1), 10)
    assert left == [START + timedelta(days=3), START + timedelta(days=4)]  # the 4th and 5th are left


def test_a_failed_occurrence_does_not_end_the_series(dispatcher, clock, fake_telnyx):
    fake_telnyx.push(Reply(503), Reply(503))  # MAX_SEND_ATTEMPTS=2: the first occurrence fails
    reminder_id = _add(dispatcher, "FREQ=DAILY")
    _run_day_by_day(dispatcher, clock, 3)
    row = _row(dispatcher, reminder_id)
    assert row.status == Status.SCHEDULED and row.owner_notified
    assert len(fake_telnyx.delivered(BOB)) == 2  # days 2 and 3
    assert ["could not be delivered" in m.text for m in fake_telnyx.delivered(ALICE)] == [True]  # told once


def test_a_cancel_of_a_claimed_reminder_is_refused_and_it_ends_sent(dispatcher, clock, fake_telnyx):
    reminder_id = _add(dispatcher, None)
    clock.now = START + timedelta(seconds=1)
    [claim] = claim_due(dispatcher.session_factory, clock(), 10, dispatcher.lease)
    with dispatcher.session_factory() as session, session.begin():
        outcome = lifecycle.cancel(session, reminder_id, clock())  # "cancel <id>" arrives
    assert not outcome.cancelled and outcome.status == Status.SENDING
    dispatcher._process(claim)  # the claimed send runs
    row = _row(dispatcher, reminder_id)
    assert [m.to for m in fake_telnyx.delivered()] == [BOB]
    assert row.status == Status.SENT and row.provider_message_id == fake_telnyx.delivered()[0].provider_id
