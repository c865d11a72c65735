"""Read repeating when-phrases ("every weekday at 8am until dec 31") into an RRULE and its anchor.

Rules are RFC 5545 without DTSTART, expanded by ``bot.series`` from the anchor: the first
occurrence's naive local wall time as asked, so a daily 8am stays 8am across DST changes and
a daily 2:30am set on a spring-forward day is anchored at 02:30, not at the 03:30 it is sent.
UNTIL is written in the floating local form (``UNTIL=20261231T235959``, the reminder's own
zone): dateutil rejects a UTC ``...Z`` UNTIL next to a naive DTSTART, and RFC 5545 pairs a
floating DTSTART with a floating UNTIL. The first occurrence is found with ``bot.series`` too,
so the parser and the dispatcher agree on every send time (month-ends clamp in both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.language.when import (DEFAULT_TIME, MAX_AHEAD, NUMBER_WORDS, PART_TIMES, WEEKDAYS, Moment, Reading,
                               Slots, TimeProblem, add_elapsed, alternation, ceil_second, clock_hours,
                               normalize_phrase, read_slots, read_when, resolve_end)
from bot.series import LEAP_DAY_NOTE, MONTH_END_NOTE, Occurrence, Series, anchor_of, occurrences_after

WEEKDAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
_END_OF_DAY = time(23, 59, 59)
_WEEKDAY = alternation(WEEKDAYS)
_DAY_LIST = rf"(?:{_WEEKDAY})(?:\s*(?:,\s*and|,|and|&)\s*(?:{_WEEKDAY}))*"
_COUNT_WORD = r"[0-9]+|" + alternation(NUMBER_WORDS)
_FREQUENCIES = {"minute": "MINUTELY", "hour": "HOURLY", "day": "DAILY", "week": "WEEKLY",
                "month": "MONTHLY", "year": "YEARLY"}
_PLURAL_DAYS = "mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays"

_SPEC = re.compile(
    r"(?<![a-z0-9])(?:"
    # "every 3 weeks on mon, thu": the days belong to the repeat (a weekday slot holds only one)
    rf"(?:every|each)\s+(?:(?P<week_other>other)\s+week|(?P<week_count>{_COUNT_WORD})\s+weeks?|week)"
    rf"\s+on\s+(?P<week_days>{_DAY_LIST})"
    rf"|(?:every|each)\s+other\s+(?P<other>day|week|month|year|hour|{_DAY_LIST})"
    rf"|(?:every|each)\s+(?P<count>{_COUNT_WORD})\s+(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
    rf"|(?:every|each)\s+(?P<single>weekdays?|weekends?|day|week|month|year|hour|minute"
    rf"|morning|afternoon|evening|night|{_DAY_LIST})"
    r"|(?P<adverb>daily|everyday|nightly|weekly|monthly|yearly|annually|hourly)"
    rf"|(?:on\s+)?(?P<plural>weekdays|weekends|(?:{_PLURAL_DAYS})(?:\s*(?:,\s*and|,|and|&)\s*(?:{_PLURAL_DAYS}))*)"
    r")(?![a-z0-9])")
_FOR = re.compile(rf"(?<![a-z])for\s+(?P<count>{_COUNT_WORD})\s+(?P<unit>hours?|days?|weeks?|months?|years?)"
                  r"(?![a-z])")
_TIMES = re.compile(rf"(?<![a-z])(?P<count>{_COUNT_WORD})\s+times(?![a-z])|(?<![a-z])once(?![a-z])")
_UNTIL = re.compile(r"(?<![a-z])(?:until|till|til|through|thru)\s+(?P<rest>.+)$")
# What describe_rule adds after a month-end day: clamping is always on, so it only has to fit.
_NOTES = {"MONTHLY": re.escape(MONTH_END_NOTE.lower()), "YEARLY": re.escape(LEAP_DAY_NOTE.lower())}
_NOTE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(f"(?P<{name}>{note})" for name, note in _NOTES.items()) + ")")
_RECURRING_WORD = re.compile(rf"(?<![a-z])(?:every|each|daily|everyday|nightly|weekly|monthly|yearly"
                             rf"|annually|hourly|weekdays|weekends|{_PLURAL_DAYS})(?![a-z])")


@dataclass(frozen=True)
class Spec:
    """The repeating part of a phrase: frequency, interval, weekdays, a time-of-day word."""

    frequency: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    part: str | None = None


def is_recurring(phrase: str) -> bool:
    """Say whether a when-phrase asks for repetition ("every ...", "daily", "mondays")."""
    return _RECURRING_WORD.search(normalize_phrase(phrase)) is not None


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _days_in(text: str) -> tuple[int, ...]:
    return tuple(sorted({WEEKDAYS[name] for name in re.findall(_WEEKDAY, text)}))


def _spec_from(match: re.Match[str]) -> Spec | TimeProblem:
    if match["week_days"]:
        interval = 2 if match["week_other"] else _number(match["week_count"]) if match["week_count"] else 1
        if interval < 1 or interval > 1000:
            return TimeProblem("unreadable", "")
        return Spec("WEEKLY", interval, _days_in(match["week_days"]))
    if match["other"]:
        word = match["other"]
        if word in _FREQUENCIES:
            return Spec(_FREQUENCIES[word], 2)
        return Spec("WEEKLY", 2, _days_in(word))
    if match["count"]:
        count = _number(match["count"])
        unit = match["unit"].rstrip("s")
        unit = {"min": "minute", "hr": "hour"}.get(unit, unit)
        if count < 1 or count > 1000:
            return TimeProblem("unreadable", "")
        if unit == "minute":
            return TimeProblem("too_often", match.group(0))
        return Spec(_FREQUENCIES[unit], count)
    word = match["single"] or match["adverb"] or match["plural"]
    if word in ("weekday", "weekdays"):
        return Spec("WEEKLY", 1, (0, 1, 2, 3, 4))
    if word in ("weekend", "weekends"):
        return Spec("WEEKLY", 1, (5, 6))
    if word in ("minute",):
        return TimeProblem("too_often", match.group(0))
    if word in ("morning", "afternoon", "evening", "night"):
        return Spec("DAILY", part=word)
    if word == "nightly":
        return Spec("DAILY", part="night")
    simple = {"daily": "DAILY", "everyday": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
              "yearly": "YEARLY", "annually": "YEARLY", "hourly": "HOURLY"}
    if word in simple:
        return Spec(simple[word])
    if word in _FREQUENCIES:
        return Spec(_FREQUENCIES[word])
    return Spec("WEEKLY", 1, _days_in(word))


def _add_months(moment: datetime, months: int) -> datetime:
    """Step whole calendar months, clamping the day (Jan 31 + 1 month = Feb 28)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def _rule_text(spec: Spec, month_day: int | None, month: int | None = None) -> str:
    parts = [f"FREQ={spec.frequency}"]
    if spec.interval > 1:
        parts.append(f"INTERVAL={spec.interval}")
    if spec.weekdays:
        parts.append("BYDAY=" + ",".join(WEEKDAY_CODES[day] for day in spec.weekdays))
    if month is not None:
        parts.append(f"BYMONTH={month}")
    if month_day is not None:
        parts.append(f"BYMONTHDAY={month_day}")
    return ";".join(parts)


def _remove(text: str, match: re.Match[str]) -> str:
    return " ".join((text[: match.start()] + " " + text[match.end():]).split())


def read_recurrence(phrase: str, now: datetime, zone: str, day_first: bool) -> Reading:
    """Read a repeating when-phrase into its first occurrence and RRULE."""
    text = normalize_phrase(phrase)
    whole = phrase.strip()
    note_match = _NOTE.search(text)
    if note_match:
        text = _remove(text, note_match)
    spec_match = _SPEC.search(text)
    if spec_match is None:
        return TimeProblem("unreadable", whole)
    spec = _spec_from(spec_match)
    if isinstance(spec, TimeProblem):
        return TimeProblem(spec.kind, spec.fragment or whole)
    if note_match and note_match.lastgroup != spec.frequency:
        return TimeProblem("unreadable", whole)
    rest = _remove(text, spec_match)

    until_text = None
    until_match = _UNTIL.search(rest)
    if until_match:
        until_text = until_match["rest"]
        rest = rest[: until_match.start()].strip()
    for_match = _FOR.search(rest)
    if for_match:
        rest = _remove(rest, for_match)
    times_match = _TIMES.search(rest)
    if times_match:
        rest = _remove(rest, times_match)
    if sum(bool(bound) for bound in (until_text, for_match, times_match)) > 1:
        return TimeProblem("two_bounds", whole)
    rest = rest.strip(" ,")  # "every day, 5 times" leaves the comma behind

    slots = read_slots(rest, day_first) if rest else Slots()
    if isinstance(slots, TimeProblem):
        return TimeProblem(slots.kind, slots.fragment or whole)
    until_slots = read_slots(until_text, day_first) if until_text else None
    if isinstance(until_slots, TimeProblem):
        return TimeProblem("unreadable", until_text or whole)
    # "every day until dec 31 at 8am": the time belongs to the reminders, not to the end date.
    if (until_slots is not None and until_slots.clock is not None and slots.clock is None
            and spec.frequency not in ("HOURLY", "MINUTELY")
            and any(name in until_slots.filled for name in ("date", "weekday", "month_day", "relative_day"))):
        slots.clock, until_slots.clock = until_slots.clock, None
        slots.filled.append("clock")
        until_slots.filled.remove("clock")

    allowed = {"clock", "part", "zone"}
    if spec.frequency == "MONTHLY":
        allowed.add("month_day")
    if spec.frequency == "YEARLY":
        allowed.add("date")
    if spec.frequency == "WEEKLY" and not spec.weekdays:
        allowed.add("weekday")
    if any(name not in allowed for name in slots.filled) or (spec.part and slots.part):
        return TimeProblem("unreadable", whole)
    if slots.weekday is not None:
        spec = Spec(spec.frequency, spec.interval, (slots.weekday,), spec.part)
    if slots.date is not None and slots.date[0] is not None:
        return TimeProblem("unreadable", whole)

    zone_name = slots.zone or zone
    first = _first_occurrence(spec, slots, now, zone_name)
    if isinstance(first, TimeProblem):
        return TimeProblem(first.kind, whole)
    # Feb 29 is named in the rule: the first occurrence may be a Feb 28, which would not say so.
    leap_day = spec.frequency == "YEARLY" and slots.date is not None and slots.date[1:] == (2, 29)
    rule = _rule_text(spec, 29 if leap_day else slots.month_day, 2 if leap_day else None)

    if times_match:
        count = 1 if times_match.group(0) == "once" else _number(times_match["count"])
        if count < 1:
            return TimeProblem("bad_count", times_match.group(0))
        rule += f";COUNT={count}"
    elif for_match or until_slots is not None:
        if for_match:
            until = _until_for(for_match, now, zone_name)
        else:
            assert until_slots is not None
            until = resolve_end(until_slots, now, zone_name, _END_OF_DAY, until_text or "")
            if isinstance(until, TimeProblem):
                return TimeProblem(until.kind, until_text or whole)
        if until < first.wall:
            return TimeProblem("ends_early", whole)
        rule += f";UNTIL={until:%Y%m%dT%H%M%S}"
    return Moment(first.at, zone_name, rule, anchor=first.wall)


def _time_of_day(spec: Spec, slots: Slots) -> time:
    if slots.clock is not None:
        if slots.part is None and spec.part is not None:
            slots.part = spec.part  # "every night at 10" is 22:00
        _, hour = clock_hours(slots, day_given=True)[0]
        return time(hour, slots.clock.minute, slots.clock.second)
    part = slots.part or spec.part
    return PART_TIMES[part] if part else DEFAULT_TIME


def _search_rule(spec: Spec, slots: Slots) -> str | TimeProblem:
    """Return the rule whose first occurrence is the series' first: the days asked for, every day otherwise."""
    if spec.frequency == "YEARLY" and slots.date is not None:
        _, month, day = slots.date
        try:
            date(2028, month, day)  # a leap year: Feb 29 is a real date (in other years, Feb 28)
        except ValueError:
            return TimeProblem("impossible", "")
        return f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={day}"
    if slots.month_day is not None and not 1 <= slots.month_day <= 31:
        return TimeProblem("impossible", "")
    if spec.weekdays or slots.month_day is not None:
        # INTERVAL counts from the first occurrence, so leave it out here.
        return _rule_text(Spec(spec.frequency, 1, spec.weekdays, spec.part), slots.month_day)
    return "FREQ=DAILY"  # "every week", "every month", "every hour at 9": today or tomorrow


def _first_occurrence(spec: Spec, slots: Slots, now: datetime, zone_name: str) -> Occurrence | TimeProblem:
    """Return the series' first occurrence after ``now``: its wall time as asked and its instant."""
    zone = ZoneInfo(zone_name)
    if spec.frequency == "HOURLY" and slots.clock is None and slots.part is None:
        at = add_elapsed(ceil_second(now).astimezone(zone), 3600 * spec.interval)
        first: Occurrence | None = Occurrence(at.replace(tzinfo=None), at)
    else:
        search = _search_rule(spec, slots)
        if isinstance(search, TimeProblem):
            return search
        start = datetime.combine(now.astimezone(zone).date(), _time_of_day(spec, slots))
        first = next(occurrences_after(Series(search, start, zone_name), now), None)
    if first is None or first.at - ceil_second(now) > MAX_AHEAD:
        return TimeProblem("too_far", "")
    return first


def _until_for(match: re.Match[str], now: datetime, zone_name: str) -> datetime:
    """Return the naive local end of "for N hours/days/weeks/months": N units from now (rounded up)."""
    count = min(_number(match["count"]), 100_000)
    unit = match["unit"].rstrip("s")
    start = ceil_second(now).astimezone(ZoneInfo(zone_name))
    if unit == "hour":  # hourly rules count real time, so their end does too
        return anchor_of(add_elapsed(start, 3600 * count), zone_name)
    local_now = start.replace(tzinfo=None)
    if unit in ("day", "week"):
        return local_now + timedelta(days=count * (7 if unit == "week" else 1))
    months = count * (12 if unit == "year" else 1)
    return _add_months(local_now, min(months, 12 * 100))


def read_schedule(phrase: str, now: datetime, zone: str, day_first: bool) -> Reading:
    """Read any when-phrase: repeating ones here, one-off ones with bot.language.when."""
    if is_recurring(phrase):
        return read_recurrence(phrase, now, zone, day_first)
    return read_when(phrase, now, zone, day_first)

