"""The calendar feed expands each series as the bot sends it (bot.series), in RFC 5545 a calendar can read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from bot.calendar_feed import FeedReminder, build_calendar
from bot.series import Series, localize, upcoming

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)

SERIES = [
    ("FREQ=WEEKLY;BYDAY=MO,WE,FR", datetime(2026, 11, 30, 8, 0), "America/New_York"),
    ("FREQ=MONTHLY", datetime(2026, 10, 31, 9, 0), "Europe/London"),  # the 31st: shorter months' last day
    ("FREQ=DAILY;COUNT=5", datetime(2026, 11, 29, 18, 30), "Australia/Sydney"),
    ("FREQ=DAILY;UNTIL=20261210T235959", datetime(2026, 12, 1, 7, 0), "America/Los_Angeles"),
    ("FREQ=HOURLY;INTERVAL=3", datetime(2027, 3, 13, 20, 0), "America/New_York"),  # across spring-forward
    ("FREQ=YEARLY", datetime(2028, 2, 29, 9, 0), "Europe/Paris"),  # Feb 28 in other years
]


@pytest.mark.parametrize("rule, anchor, zone", SERIES, ids=["weekly-days", "monthly-31st", "daily-count",
                                                             "daily-until-floating", "hourly-over-dst",
                                                             "yearly-leap-day"])
def test_a_series_in_the_feed_expands_to_the_bots_own_occurrences(rule, anchor, zone):
    first = localize(anchor, ZoneInfo(zone))
    item = FeedReminder("abc123", "water the plants", first, zone, rule, anchor)
    calendar = Calendar.from_ical(build_calendar([item], "reminders.example", NOW))
    (event,) = calendar.walk("VEVENT")
    start = event.decoded("DTSTART")
    expanded = rrulestr(event["RRULE"].to_ical().decode(), dtstart=start)
    before = first.astimezone(timezone.utc) - timedelta(seconds=1)
    expected = upcoming(Series(rule, anchor, zone), before, 8)
    got = [moment.astimezone(timezone.utc) for moment in islice(expanded, 8)]
    assert got[:len(expected)] == [moment.astimezone(timezone.utc) for moment in expected]
    assert len(got) == len(expected)
    if rule.startswith("FREQ=HOURLY"):
        assert "TZID" not in event["DTSTART"].params  # real elapsed time: in UTC
    else:
        assert event["DTSTART"].params["TZID"] == zone
        assert zone in {str(component["TZID"]) for component in calendar.walk("VTIMEZONE")}


def test_events_have_stable_uids_and_the_required_properties():
    items = [FeedReminder("k3x9ab", "call mom", NOW + timedelta(hours=3), "America/New_York", None, None),
             FeedReminder("z8y7wv", "dinner", NOW + timedelta(days=1), "Europe/London", None, None, "to +44 7400 123456")]
    first = build_calendar(items, "reminders.example", NOW)
    later = build_calendar(items, "reminders.example", NOW + timedelta(minutes=5))
    calendar = Calendar.from_ical(first)
    assert calendar["VERSION"] == "2.0" and "PRODID" in calendar
    events = calendar.walk("VEVENT")
    assert [str(event["UID"]) for event in events] == ["k3x9ab@reminders.example", "z8y7wv@reminders.example"]
    assert [str(event["UID"]) for event in Calendar.from_ical(later).walk("VEVENT")] == \
        [str(event["UID"]) for event in events]
    assert all({"DTSTAMP", "DTSTART", "DTEND", "SUMMARY"} <= set(event) for event in events)
    assert str(events[1]["SUMMARY"]) == "dinner (to +44 7400 123456)"
    assert events[0].decoded("DTSTART") == NOW + timedelta(hours=3)
