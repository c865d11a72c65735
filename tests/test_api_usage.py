"""The API's opt-out and limit checks, read in one statement (``queries.api_usage``), on SQLite and PostgreSQL.

Through ``bot.api.messages.schedule_message`` without HTTP: each limit refuses exactly at its value,
counts only the API's own messages and only those in its window, and a number the API messaged in
the last day never counts as a new one. The HTTP answers (429 with Retry-After, 409) are in
tests/test_consent.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bot.api import messages
from bot.api.messages import After, ApiLimitReached, ApiLimits, NewMessage, RecipientOptedOut
from bot.storage import lifecycle, queries
from bot.storage.db import SessionFactory
from bot.storage.models import Contact, Kind, Source

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
NUMBERS = [f"+1212555{n:04d}" for n in range(100, 110)]
GENEROUS = 1000


def _limits(**overrides: int) -> ApiLimits:
    values = {"max_new_per_hour": GENEROUS, "max_pending": GENEROUS, "max_recipients_per_day": GENEROUS, **overrides}
    return ApiLimits(**values)


def _schedule(session_factory: SessionFactory, limits: ApiLimits, recipient: str, now: datetime = NOW) -> Any:
    message = NewMessage(recipient, "hello", After(60), "minutes")
    return messages.schedule_message(session_factory, message, now, limits=limits)


def _refusal(session_factory: SessionFactory, limits: ApiLimits, recipient: str, now: datetime = NOW) -> str:
    with pytest.raises(ApiLimitReached) as refused:
        _schedule(session_factory, limits, recipient, now)
    return refused.value.setting


@pytest.mark.parametrize(("setting", "limits"), [
    ("API_MAX_PENDING", _limits(max_pending=3)),
    ("API_MAX_NEW_PER_HOUR", _limits(max_new_per_hour=3)),
    ("API_MAX_RECIPIENTS_PER_DAY", _limits(max_recipients_per_day=3)),
], ids=["pending", "per-hour", "recipients-per-day"])
def test_each_limit_lets_exactly_its_value_through(session_factory, setting, limits):
    for number in NUMBERS[:3]:
        _schedule(session_factory, limits, number)
    assert _refusal(session_factory, limits, NUMBERS[3]) == setting


def test_a_number_messaged_today_is_never_a_new_one(session_factory):
    limits = _limits(max_recipients_per_day=2)
    for number in (NUMBERS[0], NUMBERS[1], NUMBERS[0], NUMBERS[1]):
        _schedule(session_factory, limits, number)
    assert _refusal(session_factory, limits, NUMBERS[2]) == "API_MAX_RECIPIENTS_PER_DAY"


def test_many_messages_to_few_numbers_leave_room_for_new_numbers(session_factory):
    # Three messages reach the limit of three as rows; the numbers are then counted: one.
    limits = _limits(max_recipients_per_day=3)
    for _ in range(3):
        _schedule(session_factory, limits, NUMBERS[0])
    _schedule(session_factory, limits, NUMBERS[1])
    _schedule(session_factory, limits, NUMBERS[2])
    assert _refusal(session_factory, limits, NUMBERS[3]) == "API_MAX_RECIPIENTS_PER_DAY"


def test_only_messages_inside_each_window_count(session_factory):
    limits = _limits(max_new_per_hour=2, max_recipients_per_day=2)
    earlier = NOW - timedelta(hours=1, seconds=1)
    _schedule(session_factory, limits, NUMBERS[0], earlier)
    _schedule(session_factory, limits, NUMBERS[1], earlier)
    _schedule(session_factory, limits, NUMBERS[0])  # the hour is new; the numbers are known today
    _schedule(session_factory, limits, NUMBERS[1])
    assert _refusal(session_factory, limits, NUMBERS[0]) == "API_MAX_NEW_PER_HOUR"
    a_day_later = NOW + timedelta(days=1, seconds=1)
    assert _refusal(session_factory, limits, NUMBERS[2], a_day_later - timedelta(hours=2)) == \
        "API_MAX_RECIPIENTS_PER_DAY"
    _schedule(session_factory, limits, NUMBERS[2], a_day_later)  # yesterday's numbers left the count


def test_messages_that_are_not_pending_or_not_from_the_api_do_not_count(session_factory):
    limits = _limits(max_pending=1, max_recipients_per_day=1)
    with session_factory() as session, session.begin():
        for number in NUMBERS[:3]:  # reminders set by SMS, to numbers the API never messaged
            lifecycle.schedule(session, recipient=number, text="by text", send_at=NOW + timedelta(hours=1),
                               now=NOW, owner=number, kind=Kind.REMINDER, source=Source.SMS)
    job = _schedule(session_factory, limits, NUMBERS[0]).reminder
    assert _refusal(session_factory, limits, NUMBERS[0]) == "API_MAX_PENDING"
    with session_factory() as session, session.begin():
        assert lifecycle.cancel(session, job.id, NOW).cancelled
    _schedule(session_factory, limits, NUMBERS[0])  # the cancelled one no longer waits
    # An SMS reminder to NUMBERS[1] today does not make it a number the API messaged.
    with session_factory() as session:
        usage = queries.api_usage(session, NUMBERS[1], NOW, max_pending=GENEROUS, max_new_per_hour=GENEROUS,
                                  max_recipients_per_day=1)
    assert usage.day_full


def test_an_opted_out_number_is_refused_before_any_limit(session_factory):
    limits = _limits(max_pending=1)
    _schedule(session_factory, limits, NUMBERS[0])
    with session_factory() as session, session.begin():
        session.add(Contact(number=NUMBERS[1], opted_out_at=NOW - timedelta(days=1)))
    with pytest.raises(RecipientOptedOut):
        _schedule(session_factory, limits, NUMBERS[1])
    assert _refusal(session_factory, limits, NUMBERS[2]) == "API_MAX_PENDING"


def test_the_usage_read_says_nothing_is_full_below_every_limit(session_factory):
    limits = _limits(max_pending=2, max_new_per_hour=2, max_recipients_per_day=2)
    _schedule(session_factory, limits, NUMBERS[0])
    with session_factory() as session:
        usage = queries.api_usage(session, NUMBERS[1], NOW, max_pending=2, max_new_per_hour=2,
                                  max_recipients_per_day=2)
    assert usage == queries.ApiUsage(recipient_opted_out=False, pending_full=False, hour_full=False,
                                     day_full=False)
