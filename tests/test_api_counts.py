"""The trigger-kept counts behind the API's limits (migration 0007, ``ApiCount``), on SQLite and PostgreSQL.

The pending count must equal the rows counted one by one after any change, whatever code path
makes it (the triggers see every one); the window counts must never be below the rows in their
window, and a window count at the limit must not refuse on its own.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text

from bot.api import messages
from bot.api.messages import After, ApiLimits, NewMessage
from bot.storage import lifecycle
from bot.storage.db import SessionFactory, make_engine, make_session_factory, upgrade_database
from bot.storage.models import (API_COUNT_DAY_BUCKET, API_COUNT_HOUR_BUCKET, PENDING, ApiCount, Kind, Reminder,
                                Source)

# On a 5-minute and an hour boundary, so that tests can place rows in buckets on purpose.
START = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
NUMBERS = [f"+1212555{n:04d}" for n in range(200, 230)]
GENEROUS = ApiLimits(max_new_per_hour=100_000, max_pending=100_000, max_recipients_per_day=100_000)


def _schedule(session_factory: SessionFactory, recipient: str, now: datetime, limits: ApiLimits = GENEROUS,
              minutes: int = 1) -> str:
    created = messages.schedule_message(session_factory, NewMessage(recipient, "hello", After(minutes), "minutes"),
                                        now, limits=limits)
    return created.reminder.id


def _counted(session_factory: SessionFactory, counter: str, first_bucket: int = 0) -> int:
    with session_factory() as session:
        return session.scalar(select(func.coalesce(func.sum(ApiCount.n), 0)).where(
            ApiCount.counter == counter, ApiCount.starts >= first_bucket)) or 0


def _pending_rows(session_factory: SessionFactory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Reminder).where(
            Reminder.source == Source.API, Reminder.status.in_(PENDING))) or 0


def _created_rows(session_factory: SessionFactory, since: datetime) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Reminder).where(
            Reminder.source == Source.API, Reminder.created_at >= since)) or 0


def _step(session_factory: SessionFactory, chooser: random.Random, now: datetime) -> str:
    """Make one change of the kinds the bot makes to API rows (and one to other rows); name it."""
    action = chooser.choice(["schedule", "schedule", "sms", "claim-send", "claim-retry", "claim-fail", "release",
                             "cancel", "retry-failed", "delete"])
    if action == "schedule":
        _schedule(session_factory, chooser.choice(NUMBERS), now)
        return action
    with session_factory() as session, session.begin():
        if action == "sms":  # a reply: never counted
            lifecycle.insert_scheduled(session, recipient=chooser.choice(NUMBERS), text="x", now=now,
                                       send_at=now + timedelta(minutes=1), kind=Kind.REPLY, source=Source.SMS)
        elif action in ("claim-send", "claim-retry", "claim-fail", "release"):
            claims = lifecycle.claim_due(session, now + timedelta(minutes=2), chooser.randint(1, 4),
                                         timedelta(minutes=1))
            for claim in claims:
                if action == "claim-send":
                    lifecycle.mark_sent(session, claim, now, "provider-id", None)
                elif action == "claim-retry":
                    lifecycle.retry(session, claim, 1, now, "timeout")
                elif action == "claim-fail":
                    lifecycle.fail(session, claim, "refused", now, None)
            if action == "release":
                lifecycle.release(session, claims)
        else:
            ids = session.scalars(select(Reminder.id).where(Reminder.source == Source.API)
                                  .order_by(Reminder.id)).all()
            if not ids:
                return "nothing"
            chosen = chooser.choice(ids)
            if action == "cancel":
                lifecycle.cancel(session, chosen, now)
            elif action == "retry-failed":
                lifecycle.retry_failed(session, chosen, now)
            else:
                session.execute(delete(Reminder).where(Reminder.id == chosen))
    return action


def test_the_pending_count_follows_every_change(session_factory):
    chooser = random.Random(16)
    seen: set[str] = set()
    for index in range(160):
        now = START + timedelta(seconds=index)
        action = _step(session_factory, chooser, now)
        seen.add(action)
        assert _counted(session_factory, "pending") == _pending_rows(session_factory), (index, action)
    # The sequence went through every path at least once, so each was checked.
    assert {"schedule", "sms", "claim-send", "claim-retry", "claim-fail", "cancel", "retry-failed",
            "delete", "release"} <= seen


def test_window_counts_cover_their_window_and_forget_a_lap_ago(session_factory):
    chooser = random.Random(7)
    moment = START
    for _ in range(120):  # over four hours, in uneven steps: both rings go round at least once
        moment += timedelta(seconds=chooser.randint(1, 240))
        _schedule(session_factory, chooser.choice(NUMBERS), moment)
        for counter, bucket, window in (("hour", API_COUNT_HOUR_BUCKET, timedelta(hours=1)),
                                        ("day", API_COUNT_DAY_BUCKET, timedelta(days=1))):
            since = moment - window
            first = int(since.timestamp()) // bucket
            in_window = _created_rows(session_factory, since)
            in_buckets = _created_rows(session_factory, datetime.fromtimestamp(first * bucket, timezone.utc))
            # Exactly the rows of the buckets the window touches: never fewer than the window's.
            assert _counted(session_factory, counter, first) == in_buckets >= in_window
    assert moment - START > timedelta(minutes=80)  # the hour ring (16 x 5 minutes) went round


def test_a_window_count_at_the_limit_is_checked_row_by_row(session_factory):
    limits = ApiLimits(max_new_per_hour=2, max_pending=100, max_recipients_per_day=100)
    _schedule(session_factory, NUMBERS[0], START + timedelta(seconds=10), limits)
    _schedule(session_factory, NUMBERS[1], START + timedelta(seconds=20), limits)
    # An hour and 30 s later both are out of the window but still in its first 5-minute bucket:
    # the bucket's count says 2 (the limit) and the rows say 0.
    later = START + timedelta(hours=1, seconds=30)
    assert _counted(session_factory, "hour", int((later - timedelta(hours=1)).timestamp()) // 300) == 2
    _schedule(session_factory, NUMBERS[2], later, limits)
    _schedule(session_factory, NUMBERS[3], later, limits)
    with pytest.raises(messages.ApiLimitReached) as refused:
        _schedule(session_factory, NUMBERS[4], later, limits)
    assert refused.value.setting == "API_MAX_NEW_PER_HOUR"


def test_the_counts_start_from_the_rows_stored_before_the_migration(database_url):
    engine = make_engine(database_url)
    upgrade_database(engine, "0006")
    factory = make_session_factory(engine)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with factory() as session, session.begin():
        for index, number in enumerate(NUMBERS[:6]):
            lifecycle.insert_scheduled(session, recipient=number, text="x", now=now - timedelta(minutes=index * 25),
                                       send_at=now + timedelta(hours=1), source=Source.API)
        lifecycle.insert_scheduled(session, recipient=NUMBERS[7], text="x", now=now, send_at=now, source=Source.SMS)
        session.execute(text("UPDATE reminders SET status = 'sent' WHERE recipient = :number"),
                        {"number": NUMBERS[0]})
    upgrade_database(engine)
    try:
        assert _counted(factory, "pending") == _pending_rows(factory) == 5
        hour_first = int((now - timedelta(hours=1)).timestamp()) // API_COUNT_HOUR_BUCKET
        assert _counted(factory, "hour", hour_first) >= _created_rows(factory, now - timedelta(hours=1)) == 3
        assert _counted(factory, "day", 0) == 6
    finally:
        engine.dispose()


def _usage_counts(factory: SessionFactory) -> dict[str, Any]:
    with factory() as session:
        rows = session.execute(select(ApiCount.counter, func.sum(ApiCount.n)).group_by(ApiCount.counter)).all()
    return dict(rows)


def test_concurrent_api_requests_count_every_row(session_factory):
    """Requests from several threads at once (several PostgreSQL connections): no count is lost."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda index: _schedule(session_factory, NUMBERS[index % len(NUMBERS)], START),
                      range(80)))
    counts = _usage_counts(session_factory)
    assert counts["pending"] == counts["hour"] == counts["day"] == _pending_rows(session_factory) == 80


def test_the_migration_goes_down_and_up_again(session_factory):
    from alembic import command
    from sqlalchemy import inspect

    from bot.storage.db import alembic_config

    engine = session_factory.kw["bind"]
    _schedule(session_factory, NUMBERS[0], START)
    with engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0006")
        connection.commit()
    assert "api_counts" not in inspect(engine).get_table_names()
    with session_factory() as session, session.begin():  # no trigger is left to fail on the missing table
        lifecycle.insert_scheduled(session, recipient=NUMBERS[1], text="x", now=START,
                                   send_at=START + timedelta(hours=1), source=Source.API)
    upgrade_database(engine)
    _schedule(session_factory, NUMBERS[2], START)
    assert _counted(session_factory, "pending") == _pending_rows(session_factory) == 3
