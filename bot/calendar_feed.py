"""A person's upcoming reminders as an iCalendar feed (RFC 5545) that Google and Apple Calendar subscribe to.

One VEVENT per pending reminder, its UID the reminder's id at the bot's host, so a calendar that
fetches the feed again updates each event in place. A one-off starts at its send time in its
zone. A series starts at its anchor (its first wall time as asked) with its RRULE and TZID, so
the calendar expands it as bot.series does: wall-clock times through DST, COUNT counted from the
anchor, a month's 31st on shorter months' last day, and hourly rules in real elapsed time (in
UTC). Each zone used gets its VTIMEZONE, as RFC 5545 requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur

from bot.series import clamped_parts, localize, rule_parts
from bot.timeutil import as_utc

PRODUCT_ID = "-//Reminder bot//Reminders feed//EN"
EVENT_LENGTH = timedelta(minutes=15)  # a reminder is an instant; calendars draw a short block
REFRESH = "PT1H"  # how often subscribed calendars are asked to fetch again
SUMMARY_WIDTH = 80
_ELAPSED_FREQUENCIES = ("HOURLY", "MINUTELY", "SECONDLY")  # as bot.series expands them: real time, not wall time
# VTIMEZONE rules cover the years the feed's events can fall in (reminders are at most a year ahead).
_ZONE_YEARS_AHEAD = 2


@dataclass(frozen=True)
class FeedReminder:
    """What the feed shows of one pending reminder."""

    id: str
    text: str
    send_at: datetime  # the pending occurrence (aware, or naive UTC)
    zone: str
    recurrence: str | None
    series_anchor: datetime | None  # naive wall time in ``zone``
    direction: str = ""  # "to +1 646-555-0199": said in the summary when it is not for the person


def _summary(item: FeedReminder) -> str:
    text = item.text if len(item.text) <= SUMMARY_WIDTH else item.text[:SUMMARY_WIDTH - 3].rstrip() + "..."
    return f"{text} ({item.direction})" if item.direction else text


def _until_utc(value: str, zone: ZoneInfo) -> str:
    """Return an RRULE UNTIL as UTC, as RFC 5545 requires beside a DTSTART with a TZID.

    A floating UNTIL is a wall time in the series' zone; a repeated wall time means its later
    instant, so "until 1:30" on the fall-back night includes the second 1:30 (bot.series reads it so).
    """
    text = value.upper()
    if text.endswith("Z"):
        return text
    wall = datetime.strptime(text, "%Y%m%dT%H%M%S") if "T" in text else datetime.strptime(text, "%Y%m%d")
    later = wall.replace(tzinfo=zone, fold=1)
    if later.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == wall:
        instant = later.astimezone(timezone.utc)
    else:  # in a DST gap
        instant = localize(wall, zone).astimezone(timezone.utc)
    return f"{instant:%Y%m%dT%H%M%SZ}"


def _series_event(event: Event, item: FeedReminder) -> None:
    assert item.recurrence is not None
    zone = ZoneInfo(item.zone)
    anchor = item.series_anchor or as_utc(item.send_at).astimezone(zone).replace(tzinfo=None)
    parts = clamped_parts(rule_parts(item.recurrence), anchor)
    if parts.get("FREQ") in _ELAPSED_FREQUENCIES:
        start = localize(anchor, zone).astimezone(timezone.utc)  # steps of real time: expanded in UTC
        if "UNTIL" in parts:
            parts = {**parts, "UNTIL": _until_utc(parts["UNTIL"], zone)}
    else:
        # The wall time as asked, with its zone: 02:30 on a spring-forward day is read as 03:30 that
        # day and 02:30 on the next (RFC 5545 3.3.5), as bot.series sends it.
        start = anchor.replace(tzinfo=zone)
        if "UNTIL" in parts:
            parts = {**parts, "UNTIL": _until_utc(parts["UNTIL"], zone)}
    event.add("dtstart", start)
    event.add("dtend", start + EVENT_LENGTH)
    event.add("rrule", vRecur.from_ical(";".join(f"{name}={value}" for name, value in parts.items())))


def build_calendar(items: Iterable[FeedReminder], host: str, now: datetime, name: str = "Reminders") -> bytes:
    """Render reminders as an iCalendar document; each event's UID is ``<id>@<host>``, stable across fetches."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    stamp = as_utc(now)
    earliest = stamp.date()
    for item in items:
        event = Event()
        event.add("uid", f"{item.id}@{host}")
        event.add("dtstamp", stamp)
        event.add("summary", _summary(item))
        event.add("description", f"{item.text}\n\nReminder #{item.id}")
        if item.recurrence:
            _series_event(event, item)
            start = event.decoded("dtstart")
            earliest = min(earliest, start.date())
        else:
            start = as_utc(item.send_at).astimezone(ZoneInfo(item.zone))
            event.add("dtstart", start)
            event.add("dtend", start + EVENT_LENGTH)
        calendar.add_component(event)
    calendar.add_missing_timezones(first_date=date(earliest.year - 1, 1, 1),
                                   last_date=date(stamp.year + _ZONE_YEARS_AHEAD, 12, 31))
    return calendar.to_ical()


def feed_host(public_base_url: str | None, fallback: str) -> str:
    """Return the host events' UIDs are made unique with: PUBLIC_BASE_URL's, else the request's."""
    return (urlsplit(public_base_url).hostname if public_base_url else None) or fallback
