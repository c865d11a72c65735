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

from bot.language.holidays import FIXED_DAYS
from bot.language.spelling import respell
from bot.language.when import (DEFAULT_TIME, MAX_AHEAD, MAX_PHRASE_LENGTH, NUMBER_WORDS, PART_TIMES, WEEKDAYS, Moment,
                               Reading, Slots, TimeProblem, add_elapsed, alternation, ceil_second, clock_hours,
                               has_evening_reading, normalize_phrase, other_half_of_day, read_slots, read_when, resolve_end)
from bot.series import LEAP_DAY_NOTE, MONTH_END_NOTE, Occurrence, Series, anchor_of, occurrences_after

WEEKDAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
_END_OF_DAY = time(23, 59, 59)
_WEEKDAY = alternation(WEEKDAYS)
_WEEKDAY_PATTERN = re.compile(_WEEKDAY)
# "mon, wed and fri", "mon/wed/fri", "monday wednesday friday", "mwf"
_DAY_LIST = rf"(?:{_WEEKDAY}|mwf)(?:(?:\s*(?:,\s*and|,|and|&|/|\+)\s*|\s+)(?:{_WEEKDAY}))*"
_COUNT_WORD = r"[0-9]+|" + alternation(NUMBER_WORDS)
_FREQUENCIES = {"minute": "MINUTELY", "hour": "HOURLY", "day": "DAILY", "week": "WEEKLY",
                "month": "MONTHLY", "year": "YEARLY"}
_PLURAL_DAYS = "mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays"
_MONTH_WORD = (r"jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sep|sept"
               r"|september|oct|october|nov|november|dec|december")
_NTH = r"[1-5](?:st|nd|rd|th)|last"
_DAY_ORDINAL = r"[0-9]{1,2}(?:st|nd|rd|th)"
_DAY_ORDINALS = rf"{_DAY_ORDINAL}(?:\s*(?:,\s*and|,|and|&)\s*(?:the\s+)?{_DAY_ORDINAL})*"  # "1st and 15th"
_FIXED_DAY = alternation(FIXED_DAYS) + r"|christmas day|xmas|new year'?s|valentine'?s|halloween"

# Monthly and yearly phrasings, rewritten into the "every month on ..." form read below (and
# written by describe_rule): "the 15th of every month", "first tuesday of the month", "every 15th",
# "every last friday", "every jan 25", "every christmas".
_OF_EVERY_MONTH = re.compile(
    rf"(?<![a-z0-9])(?:(?:every|each)\s+)?(?:on\s+)?(?:the\s+)?"
    rf"(?P<what>(?:{_NTH})\s+(?:{_WEEKDAY})|{_DAY_ORDINALS}|last\s+day)"
    rf"\s+of\s+(?:(?P<every>every|each)(?P<interval>\s+other|\s+[0-9]+)?|the)\s+months?(?![a-z0-9])")
_EVERY_NTH_WEEKDAY = re.compile(
    rf"(?<![a-z0-9])(?:every|each)\s+(?:the\s+)?(?P<nth>{_NTH})\s+(?P<weekday>{_WEEKDAY})(?![a-z0-9])")
_EVERY_NTH_UNIT = re.compile(
    r"(?<![a-z0-9])(?:every|each)\s+(?P<nth>[2-9])(?:st|nd|rd|th)\s+(?P<unit>day|week|month|year)(?![a-z0-9])")
_EVERY_MONTH_DAY = re.compile(
    rf"(?<![a-z0-9])(?:every|each)\s+(?:the\s+)?(?P<day>{_DAY_ORDINALS}|last\s+day)"
    rf"(?!\s+(?:of\s+)?(?:{_MONTH_WORD}|{_WEEKDAY}|day|week|month|year)(?![a-z])|[a-z0-9])")
_EVERY_DATE = re.compile(
    rf"(?<![a-z0-9])(?:every|each)\s+(?=(?:the\s+)?(?:(?:{_MONTH_WORD})\.?\s+(?:the\s+)?[0-9]{{1,2}}"
    rf"|[0-9]{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH_WORD})(?![a-z])|(?:{_FIXED_DAY})(?![a-z])))")

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
                             rf"|annually|hourly|weekdays|weekends|{_PLURAL_DAYS})(?![a-z])"
                             rf"|(?<![a-z0-9])(?:{_NTH})\s+(?:{_WEEKDAY})\s+of\s+(?:every|each|the)\s+months?(?![a-z])"
                             rf"|(?<![a-z0-9])(?:{_DAY_ORDINALS}|last\s+day)\s+of\s+(?:every|each)\s+months?(?![a-z])")


@dataclass(frozen=True)
class Spec:
    """The repeating part of a phrase: frequency, interval, weekdays, a time-of-day word."""

    frequency: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    part: str | None = None
    nth: int | None = None  # with one weekday in a monthly rule: 1-5, or -1 for the last


_HINTS = re.compile(rf"(?:every|evry|each|daily|everyday|nightly|weekly|monthly|yearly|annually|hourly|fortnightly"
                    rf"|quarterly|weekdays|weekends|{_PLURAL_DAYS}|month)(?![a-z])")


def is_recurring(phrase: str) -> bool:
    """Say whether a when-phrase asks for repetition ("every ...", "daily", "mondays", "1st of every month")."""
    if len(phrase) > 4 * MAX_PHRASE_LENGTH:
        return False
    text = normalize_phrase(phrase)
    if len(text) > MAX_PHRASE_LENGTH or _HINTS.search(text) is None:
        return False
    return _RECURRING_WORD.search(respell(text)) is not None


def _every_month_on(match: re.Match[str]) -> str:
    interval = (match["interval"] or "").strip()
    if not interval:
        return f"every month on the {match['what']}"
    every = "every other month" if interval == "other" else f"every {interval} months"
    return f"{every} on the {match['what']}"


def _every_nth_weekday(match: re.Match[str]) -> str:
    nth = match["nth"]
    if nth in ("1st", "last"):
        return f"every month on the {nth} {match['weekday']}"
    if nth == "2nd":
        return f"every other {match['weekday']}"  # British "every second tuesday": fortnightly
    return match.group(0)  # "every third friday": every 3 weeks, or monthly? left unreadable


def _every_nth_unit(match: re.Match[str]) -> str:
    nth = int(match["nth"])
    return f"every other {match['unit']}" if nth == 2 else f"every {nth} {match['unit']}s"


def rewrite_repeat(text: str) -> str:
    """Rewrite monthly and yearly phrasings into "every month on the 15th", "every year on jan 25"."""
    text = _OF_EVERY_MONTH.sub(_every_month_on, text)
    text = _EVERY_NTH_WEEKDAY.sub(_every_nth_weekday, text)
    text = _EVERY_NTH_UNIT.sub(_every_nth_unit, text)
    text = _EVERY_MONTH_DAY.sub(lambda match: f"every month on the {match['day']}", text)
    return _EVERY_DATE.sub("every year on ", text)


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _days_in(text: str) -> tuple[int, ...]:
    if "mwf" in text:
        return (0, 2, 4)
    return tuple(sorted({WEEKDAYS[name] for name in _WEEKDAY_PATTERN.findall(text)}))


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


def _rule_text(spec: Spec, month_day: int | tuple[int, ...] | None, month: int | None = None) -> str:
    parts = [f"FREQ={spec.frequency}"]
    if spec.interval > 1:
        parts.append(f"INTERVAL={spec.interval}")
    if spec.weekdays:
        nth = str(spec.nth) if spec.nth is not None else ""
        parts.append("BYDAY=" + ",".join(nth + WEEKDAY_CODES[day] for day in spec.weekdays))
    if month is not None:
        parts.append(f"BYMONTH={month}")
    if isinstance(month_day, tuple):
        parts.append("BYMONTHDAY=" + ",".join(str(day) for day in month_day))
    elif month_day is not None:
        parts.append(f"BYMONTHDAY={month_day}")
    return ";".join(parts)


def _month_days(slots: Slots) -> int | tuple[int, ...] | None:
    """Return the day (or sorted days, "the 1st and 15th") of the month a monthly rule names."""
    if not slots.more_month_days:
        return slots.month_day
    assert slots.month_day is not None
    return tuple(sorted({slots.month_day, *slots.more_month_days}))


def _remove(text: str, match: re.Match[str]) -> str:
    return " ".join((text[: match.start()] + " " + text[match.end():]).split())


def read_recurrence(phrase: str, now: datetime, zone: str, day_first: bool, *, region: str | None = None) -> Reading:
    """Read a repeating when-phrase into its first occurrence and RRULE."""
    text = rewrite_repeat(respell(normalize_phrase(phrase)))
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
    if spec.frequency == "MONTHLY" and not spec.weekdays:
        allowed.update(("month_day", "nth_weekday"))
    if spec.frequency == "YEARLY":
        allowed.update(("date", "holiday"))
    if spec.frequency == "WEEKLY" and not spec.weekdays:
        allowed.add("weekday")
    if any(name not in allowed for name in slots.filled) or (spec.part and slots.part):
        return TimeProblem("unreadable", whole)
    if slots.holiday is not None:
        name, year = slots.holiday
        if name not in FIXED_DAYS or year is not None:
            return TimeProblem("unreadable", whole)  # "every easter" has no yearly rule of this shape
        slots.date = (None, *FIXED_DAYS[name])
    if slots.weekday is not None:
        if slots.week_shift is not None:
            return TimeProblem("unreadable", whole)  # "every week on next friday"
        spec = Spec(spec.frequency, spec.interval, (slots.weekday,), spec.part)
    if slots.nth_weekday is not None:
        nth, weekday = slots.nth_weekday
        spec = Spec(spec.frequency, spec.interval, (weekday,), spec.part, nth)
    if slots.date is not None and slots.date[0] is not None:
        return TimeProblem("unreadable", whole)
    if (slots.clock is not None and slots.clock.midnight
            and (spec.weekdays or slots.month_day is not None or slots.date is not None)):
        return TimeProblem("ambiguous", whole)  # "every friday at midnight": its start or its end?

    zone_name = slots.zone or zone
    at, other_at = _time_of_day(spec, slots)
    first = _first_occurrence(spec, slots, now, zone_name, at)
    if isinstance(first, TimeProblem):
        return TimeProblem(first.kind, whole)
    other = _first_occurrence(spec, slots, now, zone_name, other_at) if other_at is not None else None
    if isinstance(other, TimeProblem):
        other = None  # the other reading's first time is too far: only one remains
    evening = _evening_occurrence(spec, slots, now, zone_name, at, other_at)
    # Feb 29 is named in the rule: the first occurrence may be a Feb 28, which would not say so.
    leap_day = spec.frequency == "YEARLY" and slots.date is not None and slots.date[1:] == (2, 29)
    rule = _rule_text(spec, 29 if leap_day else _month_days(slots), 2 if leap_day else None)

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
            until = resolve_end(until_slots, now, zone_name, _END_OF_DAY, until_text or "", region=region)
            if isinstance(until, TimeProblem):
                return TimeProblem(until.kind, until_text or whole)
        if until < first.wall:
            return TimeProblem("ends_early", whole)
        if other is not None and until < other.wall:
            other = None  # "every day at 5 until 10am today": only one reading has an occurrence
        rule += f";UNTIL={until:%Y%m%dT%H%M%S}"
    evening_at, evening_anchor = (evening.at, evening.wall) if evening is not None else (None, None)
    if other is None:
        return Moment(first.at, zone_name, rule, anchor=first.wall, evening=evening_at, evening_anchor=evening_anchor)
    if other.at < first.at:
        first, other = other, first  # the nearest reading first, as for one-off times
    return Moment(first.at, zone_name, rule, anchor=first.wall, ambiguous_with=other.at, ambiguous_anchor=other.wall,
                  evening=evening_at, evening_anchor=evening_anchor)


def _evening_occurrence(spec: Spec, slots: Slots, now: datetime, zone_name: str, at: time,
                        other_at: time | None) -> Occurrence | None:
    """Return the first occurrence of a bare morning hour's evening reading ("every friday at 8": 8 PM)."""
    if not has_evening_reading(slots, at.hour):
        return None
    evening_at = time(at.hour + 12, at.minute, at.second)
    if other_at is not None and other_at != evening_at:
        return None
    found = _first_occurrence(spec, slots, now, zone_name, evening_at)
    return None if isinstance(found, TimeProblem) else found


def _time_of_day(spec: Spec, slots: Slots) -> tuple[time, time | None]:
    """Return the series' time of day, and the other half of the day when a bare hour could be either."""
    if slots.clock is not None:
        if slots.part is None and spec.part is not None:
            slots.part = spec.part  # "every night at 10" is 22:00
        _, hour = clock_hours(slots, day_given=True)[0]
        wall = datetime.combine(date(2000, 1, 1), time(hour, slots.clock.minute, slots.clock.second))
        other = other_half_of_day(slots, wall)
        return wall.time(), other.time() if other is not None else None
    part = slots.part or spec.part
    return (PART_TIMES[part] if part else DEFAULT_TIME), None


def _search_rule(spec: Spec, slots: Slots) -> str | TimeProblem:
    """Return the rule whose first occurrence is the series' first: the days asked for, every day otherwise."""
    if spec.frequency == "YEARLY" and slots.date is not None:
        _, month, day = slots.date
        try:
            date(2028, month, day)  # a leap year: Feb 29 is a real date (in other years, Feb 28)
        except ValueError:
            return TimeProblem("impossible", "")
        return f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={day}"
    if slots.month_day is not None and not (1 <= slots.month_day <= 31 or slots.month_day == -1):
        return TimeProblem("impossible", "")
    if slots.more_month_days and not all(1 <= day <= 28 for day in (slots.month_day or 0, *slots.more_month_days)):
        # One day clamps to a short month's end; a list with a 29th-31st would silently skip months.
        return TimeProblem("impossible", "")
    if spec.weekdays or slots.month_day is not None:
        # INTERVAL counts from the first occurrence, so leave it out here.
        return _rule_text(Spec(spec.frequency, 1, spec.weekdays, spec.part, spec.nth), _month_days(slots))
    return "FREQ=DAILY"  # "every week", "every month", "every hour at 9": today or tomorrow


def _first_occurrence(spec: Spec, slots: Slots, now: datetime, zone_name: str,
                      at: time) -> Occurrence | TimeProblem:
    """Return the series' first occurrence after ``now``: its wall time as asked and its instant."""
    zone = ZoneInfo(zone_name)
    if spec.frequency == "HOURLY" and slots.clock is None and slots.part is None:
        at = add_elapsed(ceil_second(now).astimezone(zone), 3600 * spec.interval)
        first: Occurrence | None = Occurrence(at.replace(tzinfo=None), at)
    else:
        search = _search_rule(spec, slots)
        if isinstance(search, TimeProblem):
            return search
        start = datetime.combine(now.astimezone(zone).date(), at)
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


def read_schedule(phrase: str, now: datetime, zone: str, day_first: bool, *, region: str | None = None) -> Reading:
    """Read any when-phrase: repeating ones here, one-off ones with bot.language.when.

    ``region`` is the sender's country ("US", "GB"; ``bot.phones.region_of``): it fixes the date
    of holidays that differ by country (mother's day, Canadian thanksgiving); without it they
    are read as in the US or, where that would be a guess, not at all.
    """
    if is_recurring(phrase):
        return read_recurrence(phrase, now, zone, day_first, region=region)
    return read_when(phrase, now, zone, day_first, region=region)

