"""Expand a repeating reminder's series: its RRULE, its anchor and its zone (dateutil does the calendar).

A series never changes once created: the next send time is always computed from the anchor
(the first occurrence's wall time as asked), never from the occurrence just sent, so a DST gap,
a clamped month-end or a restart cannot make it drift, and COUNT counts from the anchor.

- Daily and longer rules keep the wall-clock time. A wall time in a DST gap (02:30 on the
  spring-forward day) goes out moved forward by the gap (03:30), and at 02:30 again the next
  day; an ambiguous wall time (01:30 on the fall-back day) goes out once, at its first instant.
- Hourly (and finer) rules count real elapsed time: occurrences are exactly INTERVAL hours apart
  as instants, expanded in UTC from the anchor's instant.
- Monthly on the 29th-31st falls on the last day of shorter months, and yearly on Feb 29 on
  Feb 28 in other years. This is done here, when expanding, so rules stored before it was
  introduced are read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import islice
from typing import Iterator, NamedTuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from bot.timeutil import as_utc

_DAY_NAMES = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat", "SU": "Sun"}
_MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_FREQ_UNITS = {"HOURLY": "hour", "DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_ELAPSED_FREQUENCIES = ("HOURLY", "MINUTELY", "SECONDLY")
_DESCRIBED_PARTS = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL"}
_END_OF_DAY = (23, 59, 59)
# Wall-time order and instant order differ by at most one UTC-offset change, which is under a
# day everywhere (Pacific/Apia skipped a whole day in 2011, hence two).
_OFFSET_SLACK = timedelta(days=2)
MONTH_END_NOTE = "(the last day in shorter months)"
LEAP_DAY_NOTE = "(Feb 28 in other years)"


@dataclass(frozen=True)
class Series:
    """A repeating reminder: the rule as the parser wrote it, its first wall time as asked, its zone."""

    rule: str  # RFC 5545 RRULE without DTSTART, never rewritten or re-based
    anchor: datetime  # naive local wall time of the first occurrence as asked (02:30 even in a DST gap)
    zone: str  # IANA zone the wall times are in


class Occurrence(NamedTuple):
    """One occurrence: the wall time the rule names and the instant it is sent."""

    wall: datetime  # naive local wall time (02:30 on a spring-forward day)
    at: datetime  # aware, in the series' zone (03:30 that day)


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Attach ``zone`` to a wall time: a time in a DST gap moves forward by the gap, a repeated one is the first."""
    aware = naive.replace(tzinfo=zone, fold=0)
    round_trip = aware.astimezone(timezone.utc).astimezone(zone)
    if round_trip.replace(tzinfo=None) != naive.replace(fold=0):
        return round_trip  # the gap: fold=0 used the old offset, so this is naive + gap
    return aware


def anchor_of(send_at: datetime, zone: str) -> datetime:
    """Return the naive local wall time of an instant in ``zone`` (to backfill a series' anchor)."""
    return as_utc(send_at).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def next_after(series: Series, after: datetime) -> datetime | None:
    """Return the first occurrence strictly after the instant ``after``, aware in the series' zone; None when over."""
    return next((occurrence.at for occurrence in occurrences_after(series, after)), None)


def upcoming(series: Series, after: datetime, count: int) -> list[datetime]:
    """Return the next ``count`` occurrences strictly after ``after`` (fewer when the series ends)."""
    return [occurrence.at for occurrence in islice(occurrences_after(series, after), max(count, 0))]


def occurrences_after(series: Series, after: datetime) -> Iterator[Occurrence]:
    """Yield the series' occurrences strictly after the instant ``after``, in strictly increasing order."""
    parts = rule_parts(series.rule)
    if parts.get("FREQ") in _ELAPSED_FREQUENCIES:
        return _elapsed_occurrences(parts, series, as_utc(after))
    return _wall_occurrences(parts, series, as_utc(after))


def rule_parts(rule: str) -> dict[str, str]:
    """Split an RRULE ("RRULE:" prefix optional) into its NAME=value parts, names upper-cased, in order."""
    text = rule.strip()
    if text[:6].upper() == "RRULE:":
        text = text[6:]
    parts = {}
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"not an RRULE part: {part!r}")
        parts[name.strip().upper()] = value.strip()
    if "FREQ" not in parts:
        raise ValueError("an RRULE needs FREQ")
    return parts


def _rule_text(parts: dict[str, str]) -> str:
    return ";".join(f"{name}={value}" for name, value in parts.items())


def _month_days(parts: dict[str, str]) -> list[int] | None:
    """Return BYMONTHDAY as integers, or None when it is absent or not plain numbers."""
    if "BYMONTHDAY" not in parts:
        return None
    try:
        return [int(day) for day in parts["BYMONTHDAY"].split(",")]
    except ValueError:
        return None


def clamped_parts(parts: dict[str, str], anchor: datetime) -> dict[str, str]:
    """Return the parts to expand: monthly on the 29th-31st and yearly on Feb 29 clamp to the month's last day.

    ``BYMONTHDAY=31,-1;BYSETPOS=1`` is "the 31st, else the last day": in a 30-day month the set
    is {30}, in February {28} or {29}, and in a 31-day month {31}.
    """
    frequency = parts.get("FREQ")
    if any(name in parts for name in ("BYSETPOS", "BYDAY", "BYYEARDAY", "BYWEEKNO")):
        return parts
    days = _month_days(parts)
    if frequency == "MONTHLY" and "BYMONTH" not in parts:
        day = anchor.day if "BYMONTHDAY" not in parts else days[0] if days and len(days) == 1 else 0
        if 29 <= day <= 31:
            return {**parts, "BYMONTHDAY": f"{day},-1", "BYSETPOS": "1"}
    if frequency == "YEARLY":
        leap_day = (("BYMONTH" not in parts and "BYMONTHDAY" not in parts and (anchor.month, anchor.day) == (2, 29))
                    or (parts.get("BYMONTH") == "2" and days == [29]))
        if leap_day:
            return {**parts, "BYMONTH": "2", "BYMONTHDAY": "29,-1", "BYSETPOS": "1"}
    return parts


def _wall_occurrences(parts: dict[str, str], series: Series, after: datetime) -> Iterator[Occurrence]:
    zone = ZoneInfo(series.zone)
    anchor = series.anchor.replace(tzinfo=None, fold=0)
    expanded = clamped_parts(parts, anchor)
    if expanded.get("UNTIL", "").upper().endswith("Z"):  # a UTC UNTIL becomes floating local (RFC 5545 pairs them)
        until = datetime.strptime(expanded["UNTIL"].upper(), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        expanded = {**expanded, "UNTIL": f"{anchor_of(until, series.zone):%Y%m%dT%H%M%S}"}
    start = max(after.astimezone(zone).replace(tzinfo=None, fold=0) - _OFFSET_SLACK, anchor)
    rules = rrulestr(_rule_text(expanded), dtstart=_skipped_ahead(expanded, anchor, start), ignoretz=True)
    last = after
    for wall in rules.xafter(start, inc=True):
        moment = localize(wall, zone)
        instant = moment.astimezone(timezone.utc)  # compare instants: one zone's aware times compare by wall time
        if instant > last:
            last = instant
            yield Occurrence(wall, moment)


def _skipped_ahead(parts: dict[str, str], anchor: datetime, start: datetime) -> datetime:
    """Return a later DTSTART with the same occurrences from ``start`` on, so a years-old daily series is cheap.

    Whole periods of INTERVAL days or weeks keep the time, the weekday and the week's phase; a
    week is kept in hand so that days before the new DTSTART in its week are before ``start``.
    COUNT counts from the anchor, so a counted series is expanded from the anchor itself.
    """
    days = {"DAILY": 1, "WEEKLY": 7}.get(parts["FREQ"])
    if days is None or "COUNT" in parts or set(parts) - {"FREQ", "INTERVAL", "BYDAY", "UNTIL", "WKST"}:
        return anchor
    period = timedelta(days=days * int(parts.get("INTERVAL") or 1))
    periods = (start - timedelta(weeks=1) - anchor) // period
    return anchor + max(periods, 0) * period


def _elapsed_occurrences(parts: dict[str, str], series: Series, after: datetime) -> Iterator[Occurrence]:
    zone = ZoneInfo(series.zone)
    # The anchor's fold says which of two repeated wall times it is; a stored naive anchor has fold=0.
    first = series.anchor.replace(tzinfo=zone) if _exists(series.anchor, zone) else localize(series.anchor, zone)
    first = first.astimezone(timezone.utc)
    until = _until_instant(parts["UNTIL"], zone) if "UNTIL" in parts else None
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    if any(name.startswith("BY") for name in parts):
        # Not produced by the parser: let dateutil expand it, in UTC so that steps are real time.
        utc_parts = {name: value for name, value in parts.items() if name != "UNTIL"}
        if until is not None:
            utc_parts["UNTIL"] = f"{until:%Y%m%dT%H%M%S}"
        rules: rrule = rrulestr(_rule_text(utc_parts), dtstart=first.replace(tzinfo=None), ignoretz=True)
        for moment in rules.xafter(after.replace(tzinfo=None), inc=False):
            aware = moment.replace(tzinfo=timezone.utc).astimezone(zone)
            yield Occurrence(aware.replace(tzinfo=None), aware)
        return
    step = timedelta(seconds=int(parts.get("INTERVAL") or 1) * {"HOURLY": 3600, "MINUTELY": 60}.get(parts["FREQ"], 1))
    index = 0 if after < first else (after - first) // step + 1
    while count is None or index < count:
        moment = first + index * step
        if until is not None and moment > until:
            return
        aware = moment.astimezone(zone)
        yield Occurrence(aware.replace(tzinfo=None), aware)
        index += 1


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    """Say whether a wall time exists in ``zone`` (it does not in a DST gap)."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None, fold=0) == naive.replace(fold=0)


def _until_instant(value: str, zone: ZoneInfo) -> datetime:
    """Read an UNTIL as an instant: a floating one is local; a repeated wall time means its later instant."""
    text = value.upper()
    if text.endswith("Z"):
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    wall = datetime.strptime(text, "%Y%m%dT%H%M%S") if "T" in text else datetime.strptime(text, "%Y%m%d")
    if _exists(wall, zone):
        return wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)  # inclusive: "until 1:30" is the last 1:30
    return localize(wall, zone).astimezone(timezone.utc)


# --- describing a rule in the parser's own words -------------------------------------------


def describe_rule(rule: str, anchor: datetime | None = None) -> str:
    """Describe an RRULE in words the parser reads back: "every 3 weeks on Mon", "every day, 5 times".

    ``anchor`` (the first occurrence's wall time) names the day a rule leaves to it: "every
    month" anchored on the 31st is "every month on the 31st (the last day in shorter months)".
    """
    try:
        parts = rule_parts(rule)
        text = _describe_days(parts, int(parts.get("INTERVAL") or 1), anchor)
        if text is not None and "COUNT" in parts:
            count = int(parts["COUNT"])
            text += ", once" if count == 1 else f", {count} times"
        if text is not None and "UNTIL" in parts:
            text += f", until {_describe_until(parts['UNTIL'])}"
    except (ValueError, KeyError):
        text = None
    return f"repeating ({rule})" if text is None else text  # not a shape the parser writes: say what it is


def _every(frequency: str, interval: int) -> str:
    unit = _FREQ_UNITS[frequency]
    if interval == 1:
        return f"every {unit}"
    if interval == 2 and frequency != "HOURLY":
        return f"every other {unit}"
    return f"every {interval} {unit}s"


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _describe_days(parts: dict[str, str], interval: int, anchor: datetime | None) -> str | None:
    frequency = parts["FREQ"]
    if frequency not in _FREQ_UNITS or set(parts) - _DESCRIBED_PARTS or interval < 1:
        return None
    by_day = parts.get("BYDAY")
    days = _month_days(parts)
    if (by_day or days) and frequency not in ("WEEKLY", "MONTHLY", "YEARLY"):
        return None
    if frequency == "WEEKLY":
        if "BYMONTHDAY" in parts or "BYMONTH" in parts:
            return None
        codes = by_day.split(",") if by_day else [list(_DAY_NAMES)[anchor.weekday()]] if anchor else []
        if any(code not in _DAY_NAMES for code in codes):
            return None  # "2MO" and the like: not the parser's
        if not codes:
            return _every(frequency, interval)
        names = ", ".join(_DAY_NAMES[code] for code in sorted(codes, key=list(_DAY_NAMES).index))
        if interval <= 2:
            return ("every " if interval == 1 else "every other ") + names
        return f"{_every(frequency, interval)} on {names}"
    if frequency == "MONTHLY":
        if "BYMONTH" in parts:
            return None
        if by_day:
            return _describe_nth_weekday(by_day, frequency, interval, "BYMONTHDAY" in parts)
        if "BYMONTHDAY" in parts:
            if days == [-1]:
                return f"{_every(frequency, interval)} on the last day"
            if days and len(days) > 1 and all(1 <= day <= 28 for day in days) and days == sorted(set(days)):
                named = [_ordinal(day) for day in days]
                return f"{_every(frequency, interval)} on the {', '.join(named[:-1])} and {named[-1]}"
            if not (days and len(days) == 1 and 1 <= days[0] <= 31):
                return None  # "-2", "1,31": not the parser's
            day = days[0]
        elif anchor is not None:
            day = anchor.day
        else:
            return _every(frequency, interval)
        note = f" {MONTH_END_NOTE}" if day >= 29 else ""
        return f"{_every(frequency, interval)} on the {_ordinal(day)}{note}"
    if frequency == "YEARLY":
        if by_day:
            return None
        if "BYMONTH" in parts or "BYMONTHDAY" in parts:
            month = int(parts.get("BYMONTH", "0")) if parts.get("BYMONTH", "").isdigit() else 0
            if not (days and len(days) == 1 and 1 <= month <= 12):
                return None
            month_day = (month, days[0])
        elif anchor is not None:
            month_day = (anchor.month, anchor.day)
        else:
            return _every(frequency, interval)
        try:
            date(2028, *month_day)  # 2028 is a leap year: Feb 29 is a real date
        except ValueError:
            return None
        note = f" {LEAP_DAY_NOTE}" if month_day == (2, 29) else ""
        return f"{_every(frequency, interval)} on {_MONTH_NAMES[month_day[0] - 1]} {month_day[1]}{note}"
    return _every(frequency, interval)


_NTH_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}


def _describe_nth_weekday(by_day: str, frequency: str, interval: int, has_month_days: bool) -> str | None:
    """Describe "BYDAY=1TU" as "every month on the first Tue", "-1FR" as "... on the last Fri"."""
    if has_month_days or "," in by_day:
        return None
    code = by_day[-2:]
    try:
        nth = int(by_day[:-2])
    except ValueError:
        return None  # a bare "TU" in a monthly rule: every Tuesday, not the parser's
    if code not in _DAY_NAMES or nth not in _NTH_WORDS:
        return None
    return f"{_every(frequency, interval)} on the {_NTH_WORDS[nth]} {_DAY_NAMES[code]}"


def _describe_until(value: str) -> str:
    text = value.upper().rstrip("Z")  # a UTC UNTIL is not written by the parser; shown as its date and time
    until = datetime.strptime(text, "%Y%m%dT%H%M%S") if "T" in text else datetime.strptime(text, "%Y%m%d")
    day = f"{_MONTH_NAMES[until.month - 1]} {until.day}, {until.year}"
    if (until.hour, until.minute, until.second) == _END_OF_DAY:
        return day  # "until dec 31" reads as the end of that day
    seconds = f":{until:%S}" if until.second else ""
    return f"{day} at {until.hour % 12 or 12}:{until:%M}{seconds} {'AM' if until.hour < 12 else 'PM'}"

