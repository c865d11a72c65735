"""Read when-phrases ("tomorrow 9am", "in 2h", "dec 3 at 5pm PST") into aware datetimes.

A phrase is first respelled (``bot.language.spelling``: "tmrw at seven" is "tomorrow at 7"),
then read as a set of slots (elapsed time, day, time of day, zone), each filled at most once,
in any order; every word must belong to a slot. Wall times are read in the sender's zone
unless the phrase names one ("9am London time"), and a wall time that falls in a DST gap
moves forward by the gap.

Rules that decide a reading:
- "friday", "this friday", "next friday": the coming Friday, never today. "friday after next"
  and British "friday week" are a week after that; "wednesday of next week" and "next week
  wednesday" are in the next Monday-to-Sunday week; "next week" alone is its Monday.
- "this weekend" is the weekend's Saturday (its Sunday once Saturday's time has passed).
- "end of the month" is its last day; "eod", "end of day", "cob" are 17:00; "lunchtime" and
  "at lunch" are 12:00; "first thing" is the morning (9:00); "arvo" is the afternoon (15:00).
- Four-digit times ("0930", "2130") and "17h30" are 24-hour. Numeric dates are read in the
  sender's order: day first ("29/11", "29.11") except from +1 numbers ("11/29"); a dotted pair
  that cannot be a time is a date ("29.11").
- Holidays whose date the sender's country fixes (``bot.language.holidays``).
- "in a few minutes", "after work", "twice a day" stay unreadable: there is no one meaning.

When two readings are equally plausible, ``Moment.send_at`` is the nearest and
``Moment.ambiguous_with`` the other (the parser asks instead of guessing):
1. A bare hour (1-12 without am/pm, a part of the day or a 24-hour form: "at 5", "at two",
   "5:30") is the nearest future reading, today or tomorrow, or on the day named (where 12
   is noon). When that reading is at night (00:00-06:59) and the other half of the day is a
   waking hour (07:00-23:59), the other is ``ambiguous_with``, on the same date: "at 5" at
   20:49 is 5 AM tomorrow or 5 PM tomorrow; "tomorrow at 5" is 5 AM or 5 PM tomorrow; "at 12"
   at 14:00 is midnight or noon tomorrow. "at 7" at 20:00 is 7 AM tomorrow and "at 10" at
   20:00 is 10 PM today, both clearly. Repeats too: "every day at 5" is 5 AM or 5 PM. A part
   of the day settles it: "5 in the evening", "at 5 tonight", "at 5 in the morning".
2. Midnight on a named day ("friday at midnight", "dec 31 at midnight"): the start of that
   day or its end. "midnight" and "tonight at midnight" are the coming one.
3. "next <weekday>" said the day before ("next friday" on a Thursday): tomorrow, or a week
   later.
4. "next week" and "<weekday> of next week" said on a Sunday: the week starting tomorrow, or
   the one after (weeks start on Sunday in the US).
5. "next weekend" said Monday to Friday: the coming weekend, or the one after.
6. A dotted pair that is both a time and a date in the sender's order ("9.05" from a UK
   number, "9.30" from a +1 one), with no "at", am/pm or other day: the time or the date.
Two of these at once ("next friday at 3" on a Thursday: Fri 3 AM, Fri 3 PM, or a week later)
give TimeProblem("ambiguous") with every reading in ``choices``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Callable, Union
from zoneinfo import ZoneInfo, available_timezones

from bot.language.commands import MAX_DAYS_AHEAD
from bot.language.holidays import HOLIDAY_PATTERN, holiday_date, holiday_name
from bot.language.places import CITY_ZONES
from bot.language.spelling import respell
from bot.series import localize

DEFAULT_TIME = time(9, 0)
PART_TIMES = {"morning": time(9), "afternoon": time(15), "evening": time(18), "night": time(20)}
MAX_AHEAD = timedelta(days=MAX_DAYS_AHEAD)
# Anything beyond this cannot be within MAX_AHEAD, and keeps timedelta from overflowing.
_MAX_UNITS = 10**6
# No when-phrase is longer; the parser tries every ending of a 2000-character message.
MAX_PHRASE_LENGTH = 160
NIGHT_END = 7  # 00:00-06:59 is night: a bare hour read there is asked about

ZONE_ALIASES = {
    "eastern": "America/New_York", "est": "America/New_York", "edt": "America/New_York",
    "et": "America/New_York",
    "central": "America/Chicago", "cst": "America/Chicago", "cdt": "America/Chicago",
    "ct": "America/Chicago",
    "mountain": "America/Denver", "mst": "America/Denver", "mdt": "America/Denver",
    "mt": "America/Denver",
    "pacific": "America/Los_Angeles", "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "alaska": "America/Anchorage", "akst": "America/Anchorage", "akdt": "America/Anchorage",
    "hawaii": "Pacific/Honolulu", "hst": "Pacific/Honolulu",
    "utc": "UTC", "z": "UTC",
    # Like EST for New York, GMT and BST name the UK's clock, which is Europe/London.
    "gmt": "Europe/London", "bst": "Europe/London", "uk": "Europe/London",
    "cet": "Europe/Paris", "cest": "Europe/Paris",
    "aest": "Australia/Sydney", "aedt": "Australia/Sydney", "acst": "Australia/Adelaide",
    "acdt": "Australia/Adelaide", "awst": "Australia/Perth", "nzst": "Pacific/Auckland",
    "nzdt": "Pacific/Auckland", "jst": "Asia/Tokyo", "kst": "Asia/Seoul", "hkt": "Asia/Hong_Kong",
    "sgt": "Asia/Singapore", "msk": "Europe/Moscow",
}

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "weds": 2,
    "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
}
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
UNIT_DAYS = {"d": 1, "w": 7, "f": 14}
UNIT_MONTHS = {"o": 1, "y": 12}  # mOnths, Years: calendar months, the day clamped to the month's end


def alternation(words: object) -> str:
    """Return a regex alternation of ``words``, longest first so prefixes don't win."""
    return "|".join(sorted((re.escape(str(word)) for word in words), key=len, reverse=True))


_END = r"(?=[\s,]|$)"
_MONTH = alternation(_MONTHS)
_WEEKDAY = alternation(WEEKDAYS)
# Digits may touch their unit ("2h"); words may not ("an d" is not "and").
_COUNT = r"(?:[0-9]+(?:\.[0-9]+)?\s*|(?:" + alternation(NUMBER_WORDS) + r")\s+)"
_UNIT = (r"(?P<unit>seconds?|secs?|s|months?|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w"
         r"|fortnights?|years?)")
UNIT_PATTERN = re.compile(
    r"(?:seconds?|secs?|s)|(?:months?)|(?:minutes?|mins?|m)|(?:hours?|hrs?|h)|(?:days?|d)|(?:weeks?|wks?|w)"
    r"|(?:fortnights?)|(?:years?)")
_DURATION_PART = re.compile(
    rf"(?:and\s+)?(?P<number>[0-9]+(?:\.[0-9]+)?(?=\s*[a-z])|{alternation(NUMBER_WORDS)}(?=\s))"
    rf"\s*{_UNIT}(?=[\s,0-9]|$)")
_ONE_PART = rf"{_COUNT}(?:{UNIT_PATTERN.pattern})(?=[\s,0-9]|$)"
_DURATION = rf"{_ONE_PART}(?:[\s,]*(?:and\s+)?{_ONE_PART})*(?:\s+and\s+a\s+half)?"
_ORDINAL = r"(?:st|nd|rd|th)"
_NUMBER = re.compile(r"[0-9]+")
# "1h30" alone, as snooze has it: the number after the hours is minutes.
_HOURS_THEN_MINUTES = re.compile(r"^([0-9]+)\s*(?:h|hr|hrs|hours?)\s*([0-9]{1,2})$")


def _unit_key(unit: str) -> str:
    """Return the one-letter key of a unit word: s, m (minutes), h, d, w, f (fortnight), o (month), y."""
    if unit.startswith("mo"):
        return "o"
    return unit[0]


@dataclass(frozen=True)
class Duration:
    """A span: calendar months and days (keep the clock time) plus elapsed real seconds."""

    days: int = 0
    seconds: int = 0
    months: int = 0


@dataclass(frozen=True)
class Clock:
    """A time of day as written; ``meridiem`` is "am", "pm" or None (bare or 24-hour)."""

    hour: int
    minute: int = 0
    second: int = 0
    meridiem: str | None = None
    ambiguous: bool = False  # a bare 1-12 with no am/pm: morning or evening is up to context
    bare: bool = False  # just a number, no "at", colon or am/pm
    midnight: bool = False  # the word "midnight": the start or the end of a named day
    # A dotted "9.05" that is a date too, as (month, day) in the sender's order.
    date_alternative: tuple[int, int] | None = None
    # A French-style "8h30" or "8h": 08:30 beside a day ("tomorrow 8h30"); alone it may mean in 8h30.
    needs_day: bool = False


@dataclass
class Slots:
    """What a when-phrase said, slot by slot."""

    elapsed: Duration | None = None
    date: tuple[int | None, int, int] | None = None  # (year or None, month, day)
    month_day: int | None = None  # "on the 5th"; -1 is "the last day"
    more_month_days: tuple[int, ...] = ()  # "the 1st and 15th": only in a monthly repeat
    next_month: bool = False  # for month_day: "the 3rd of next month", never this month's
    plus_days: int = 0  # "a week from friday": days after the day named
    relative_day: int | None = None  # 0 today, 1 tomorrow, 2 the day after
    weekday: int | None = None
    week_shift: str | None = None  # for weekday: "next", "after_next", "next_week"
    next_week: bool = False  # "next week" alone: its Monday
    weekend: str | None = None  # "this" or "next"
    month_end: bool = False  # "end of the month"
    holiday: tuple[str, int | None] | None = None  # (canonical name, year or None)
    nth_weekday: tuple[int, int] | None = None  # (1-5 or -1 for last, weekday): in a monthly repeat
    part: str | None = None  # morning, afternoon, evening, night
    clock: Clock | None = None
    zone: str | None = None
    tonight: bool = False
    filled: list[str] = field(default_factory=list)

    def is_only_bare_number(self) -> bool:
        """Say whether the phrase was a lone number ("7", "1620"), too weak to find inside text."""
        return self.filled == ["clock"] and self.clock is not None and self.clock.bare


@dataclass(frozen=True)
class TimeProblem:
    """Why a when-phrase gave no time: unreadable, conflict, impossible, past, too_far, ambiguous, ..."""

    kind: str  # "conflict": every word known, but they disagree ("in 2 hours at 5pm")
    fragment: str
    # For "ambiguous": every reading the phrase allows, soonest first (empty when they have no
    # one instant each, as for "every friday at midnight").
    choices: tuple[datetime, ...] = ()

    def is_unreadable(self) -> bool:
        """Say whether the phrase was not a when-phrase at all (as opposed to a bad one)."""
        return self.kind in ("unreadable", "conflict")


@dataclass(frozen=True)
class Moment:
    """A resolved time, aware in the zone it was read in."""

    send_at: datetime
    zone: str
    recurrence: str | None = None  # RRULE without DTSTART; send_at is the first occurrence
    # A repeating reading's first occurrence as a naive wall time as asked: 02:30 on a
    # spring-forward day, when send_at is 03:30. The series is expanded from it.
    anchor: datetime | None = None
    # Another reading the phrase allows as well, when neither is clearly meant: for a bare hour
    # ("at 5") whose nearest reading falls at night (00:00-06:59) while the other is a waking
    # hour, the other one. The parser asks "5 AM or 5 PM?" instead of guessing. The module
    # docstring lists every case.
    ambiguous_with: datetime | None = None
    # For a repeating reading, the other reading's anchor (its first wall time as asked).
    ambiguous_anchor: datetime | None = None
    # For a bare hour read in the morning ("friday at 8" is 8 AM), its evening reading on the same
    # day (8 PM): the parser takes it when the reminder's text says evening ("dinner at 8 on friday").
    evening: datetime | None = None
    evening_anchor: datetime | None = None  # for a repeating reading, the evening's first wall time


Reading = Union[Moment, TimeProblem]


def normalize_phrase(phrase: str) -> str:
    """Lowercase, collapse spaces and drop trailing sentence punctuation."""
    text = " ".join(phrase.lower().replace("\u2019", "'").replace("\u2018", "'").split())
    return text.strip(" .!?;")


def ceil_second(moment: datetime) -> datetime:
    """Round up to the next whole second: a time computed from now is never early, "in 5 seconds" too."""
    if moment.microsecond == 0:
        return moment
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def add_elapsed(moment: datetime, seconds: int) -> datetime:
    """Add real elapsed seconds (not wall-clock seconds) to an aware datetime."""
    utc = moment.astimezone(ZoneInfo("UTC")) + timedelta(seconds=seconds)
    return utc.astimezone(moment.tzinfo)


def add_months(day: date, months: int) -> date:
    """Step whole calendar months, clamping the day (Jan 31 + 1 month = Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for candidate in range(day.day, 27, -1):
        try:
            return day.replace(year=year, month=month, day=candidate)
        except ValueError:
            continue
    return day.replace(year=year, month=month, day=min(day.day, 28))


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    # Built on first use: listing tzdata touches the disk, so not at import time.
    return {name.lower(): name for name in available_timezones()}


def find_zone(name: str) -> str | None:
    """Return the IANA zone for a name, alias or city ("pacific", "PST", "europe/paris", "london")."""
    key = " ".join(name.lower().split()).removesuffix(" time").strip()
    if key in ZONE_ALIASES:
        return ZONE_ALIASES[key]
    if key in CITY_ZONES:
        return CITY_ZONES[key]
    return _zone_names().get(key.replace(" ", "_"))


def _unit_size(unit: str) -> int:
    """A unit's length in seconds, months counted as 31 days: only their order matters."""
    if unit in UNIT_MONTHS:
        return UNIT_MONTHS[unit] * 31 * 86400
    if unit in UNIT_DAYS:
        return UNIT_DAYS[unit] * 86400
    return UNIT_SECONDS[unit]


def parse_duration(text: str) -> Duration | None:
    """Read "10 minutes", "1h20m", "1h30", "an hour and a half", "half an hour"; None if not a duration."""
    if len(text) > 4 * MAX_PHRASE_LENGTH:
        return None
    text = respell(normalize_phrase(text))
    text = _HOURS_THEN_MINUTES.sub(r"\1 hours \2 minutes", text)
    half = text.endswith(" and a half")
    if half:
        text = text.removesuffix(" and a half")
    days = seconds = months = 0
    position = 0
    last_unit = ""
    units: set[str] = set()
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            return None
        raw, unit = match["number"], _unit_key(match["unit"])
        if unit in units:
            return None  # a span names each unit once: "7s6w9w" is an id ("snooze 7s6w9w 2h"), not 105 days
        if last_unit and _unit_size(unit) >= _unit_size(last_unit):
            return None  # and from the largest down: "11939m 2h" is an id and a time, not 8 days
        units.add(unit)
        value = float(raw) if raw[0].isdigit() else float(NUMBER_WORDS[raw])
        if value > _MAX_UNITS:
            value = _MAX_UNITS
        if unit in UNIT_DAYS or unit in UNIT_MONTHS:
            if value != int(value):
                return None  # "1.5 days" has no clean calendar meaning
            if unit in UNIT_DAYS:
                days += int(value) * UNIT_DAYS[unit]
            else:
                months += int(value) * UNIT_MONTHS[unit]
        else:
            seconds += round(value * UNIT_SECONDS[unit])
        last_unit = unit
        position = match.end()
        while position < len(text) and text[position] in " ,":
            position += 1
    if position == 0:
        return None
    if half:
        if last_unit in UNIT_MONTHS:
            return None  # half a month is not a calendar span
        if last_unit in UNIT_DAYS:
            seconds += 12 * 3600 * UNIT_DAYS[last_unit]
        else:
            seconds += UNIT_SECONDS[last_unit] // 2
    return Duration(days=days, seconds=seconds, months=months)


# --- slot rules: each matches at a position and fills slots ---------------------------------

SlotFiller = Callable[[re.Match[str], Slots, bool], Union[TimeProblem, None]]


def _fill(slots: Slots, name: str, value: object) -> TimeProblem | None:
    if name in slots.filled:
        return TimeProblem("conflict", "")
    slots.filled.append(name)
    setattr(slots, name, value)
    return None


def _on_elapsed(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    duration = parse_duration(match["duration"])
    if duration is None:
        return TimeProblem("unreadable", "")
    return _fill(slots, "elapsed", duration)


def _on_relative_day(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    word = match["day"]
    if word == "tonight":
        slots.tonight = True
        return _fill(slots, "relative_day", 0) or _fill(slots, "part", "night")
    offset = 0 if word == "today" else 2 if "after" in word else 1
    return _fill(slots, "relative_day", offset)


def _on_part(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    if match["this"]:
        problem = _fill(slots, "relative_day", 0)
        if problem:
            return problem
    return _fill(slots, "part", match["part"])


def _on_weekday(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    shift = "next" if (match["modifier"] or "").startswith("next") else None
    return _fill(slots, "weekday", WEEKDAYS[match["weekday"]]) or _fill(slots, "week_shift", shift)


def _on_weekday_after_next(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return _fill(slots, "weekday", WEEKDAYS[match["weekday"]]) or _fill(slots, "week_shift", "after_next")


def _on_weekday_of_next_week(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    weekday = match["weekday"] or match["weekday_after"]
    return _fill(slots, "weekday", WEEKDAYS[weekday]) or _fill(slots, "week_shift", "next_week")


def _on_next_week(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return _fill(slots, "next_week", True)


def _on_weekend(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return _fill(slots, "weekend", "next" if "next" in (match["modifier"], match["alone"]) else "this")


def _on_month_end(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return _fill(slots, "month_end", True)


def _on_holiday(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return _fill(slots, "holiday", (holiday_name(match["holiday"]), _year(match["year"])))


def _year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return value + 2000 if value < 100 else value


def _ordinal_day(match: re.Match[str]) -> int:
    return int(match["day"])


def _on_month_name_date(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    day, month = _ordinal_day(match), _MONTHS[match["month"]]
    return _fill(slots, "date", (_year(match["year"]), month, day))


def _valid_day(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)


def _ordered(first: int, second: int, day_first: bool) -> tuple[int, int] | None:
    """Return (month, day) of a numeric date in the sender's order, or None when that is no date."""
    month, day = (second, first) if day_first else (first, second)
    return (month, day) if _valid_day(month, day) else None


def _on_numeric_date(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    ordered = _ordered(int(match["first"]), int(match["second"]), day_first)
    if ordered is None:
        month, day = (int(match["second"]), int(match["first"])) if day_first else (
            int(match["first"]), int(match["second"]))
        return _fill(slots, "date", (_year(match["year"]), month, day))  # impossible: said when resolved
    return _fill(slots, "date", (_year(match["year"]), *ordered))


def _on_dotted(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    """Read "29.11", "9.05" or "3.12.2026": a date, a time, or both (asked about)."""
    first, second = int(match["first"]), int(match["second"])
    ordered = _ordered(first, second, day_first)
    is_time = first <= 23 and len(match["second"]) == 2 and second <= 59
    if match["year"] or (ordered is not None and not is_time) or match["on"]:
        if ordered is None:
            return TimeProblem("impossible", match.group(0).removeprefix("on").strip())
        return _fill(slots, "date", (_year(match["year"]), *ordered))
    if not is_time:
        return TimeProblem("impossible", match.group(0))
    if ordered is not None and "clock" in slots.filled:
        return _fill(slots, "date", (None, *ordered))  # "5pm 3.12": the clock is taken, so a date
    ambiguous = 1 <= first <= 12 and not match["first"].startswith("0")
    alternative = ordered if not match["at"] else None
    # Without "at", "12.50" inside a message is as likely a price as a time: as weak as a lone number.
    clock = Clock(first, second, 0, None, ambiguous=ambiguous, bare=not match["at"], date_alternative=alternative)
    return _fill(slots, "clock", clock)


def _on_iso_date(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    problem = _fill(slots, "date", (int(match["year"]), int(match["month"]), int(match["day"])))
    if problem or match["hour"] is None:
        return problem
    clock = Clock(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    return _fill(slots, "clock", clock)


def _on_month_day(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    if match["more"]:
        slots.more_month_days = tuple(int(day) for day in _NUMBER.findall(match["more"]))
    slots.next_month = match["next_month"] is not None
    return _fill(slots, "month_day", int(match["day"] or match["bare_day"]))


def _on_weeks_from(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    count = 1 if match["count"] in ("a", "an") else int(match["count"])
    if count > 60:
        return TimeProblem("too_far", "")
    return _fill(slots, "plus_days", 7 * count)


def _on_last_day(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return _fill(slots, "month_day", -1)


def _on_nth_weekday(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    nth = -1 if match["nth"] == "last" else int(match["nth"][0])
    return _fill(slots, "nth_weekday", (nth, WEEKDAYS[match["weekday"]]))


def _on_named_time(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    if match["name"] == "midnight":
        return _fill_clock(slots, Clock(0, 0, 0, meridiem=None, midnight=True))
    return _fill_clock(slots, Clock(12, 0, 0, meridiem=None))


def _fill_clock(slots: Slots, clock: Clock) -> TimeProblem | None:
    """Fill the clock; a dotted "3.12" already there that can be a date becomes the date."""
    held = slots.clock
    if held is not None and held.date_alternative is not None and "date" not in slots.filled:
        slots.filled.remove("clock")
        slots.clock = None
        problem = _fill(slots, "date", (None, *held.date_alternative))
        if problem:
            return problem
    return _fill(slots, "clock", clock)


def _on_clock(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    fragment = match.group(0).removeprefix("at").strip(" @")
    at = match["at"] is not None
    meridiem = None
    if match["meridiem"]:
        meridiem = "am" if match["meridiem"][0] == "a" else "pm"
    twenty_four = needs_day = False
    if match["compact"]:
        digits = match["compact"]
        if len(digits) == 4:
            hour, minute = int(digits[:2]), int(digits[2:])
            twenty_four = meridiem is None  # "0930", "2130": 24-hour, as written on timetables
        else:
            if meridiem is None and not at:
                return TimeProblem("unreadable", fragment)  # "930" alone could be anything
            hour, minute = int(digits[0]), int(digits[1:])
        second = 0
    elif match["h_hour"]:
        hour, minute, second = int(match["h_hour"]), int(match["h_minute"] or 0), 0
        needs_day = not (at or hour >= 13 or match["h_hour"].startswith("0"))
        twenty_four = True
    else:
        hour = int(match["hour"])
        minute = int(match["minute"] or 0)
        second = int(match["second"] or 0)
        twenty_four = match["hour"].startswith("0") and len(match["hour"]) == 2
    if minute > 59 or second > 59:
        return TimeProblem("impossible", fragment)
    if meridiem:
        if not 1 <= hour <= 12:
            return TimeProblem("impossible", fragment)
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
        clock = Clock(hour, minute, second, meridiem)
    else:
        if hour > 23:
            return TimeProblem("impossible", fragment)
        # "09:30" and "17:45" are 24-hour times; "7" and "7:30" could be morning or evening.
        ambiguous = 1 <= hour <= 12 and not twenty_four
        bare = not at and match["minute"] is None and not match["oclock"] and not match["h_hour"]
        clock = Clock(hour, minute, second, None, ambiguous=ambiguous, bare=bare, needs_day=needs_day)
    return _fill_clock(slots, clock)


def _on_zone(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    zone = find_zone(match["zone"])
    if zone is None:
        return TimeProblem("unreadable", "")
    return _fill(slots, "zone", zone)


def _on_city(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    # "call paris at 5" is about Paris, not in its time: a bare city only counts right after a clock ("10am paris").
    if match["time"] is None and (not slots.filled or slots.filled[-1] != "clock"):
        return TimeProblem("unreadable", "")
    return _on_zone(match, slots, day_first)


def _on_filler(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return None


_WEEKDAY_WORD = rf"(?P<weekday>{_WEEKDAY})\.?"
_CITY = alternation(CITY_ZONES)
_RULES: list[tuple[re.Pattern[str], SlotFiller]] = [
    (re.compile(r"(?:in|after)\s+(?P<duration>" + _DURATION + r")" + _END), _on_elapsed),
    (re.compile(r"(?P<duration>" + _DURATION + r")\s+(?:from\s+now|later|hence)" + _END), _on_elapsed),
    (re.compile(r"(?:on\s+)?(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
                r"(?:t(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?)?" + _END),
     _on_iso_date),
    (re.compile(r"(?:on\s+)?(?P<first>[0-9]{1,2})/(?P<second>[0-9]{1,2})"
                r"(?:/(?P<year>[0-9]{4}|[0-9]{2}))?" + _END), _on_numeric_date),
    (re.compile(r"(?:(?P<on>on)\s+|(?P<at>at|@)\s*)?(?P<first>[0-9]{1,2})\.(?P<second>[0-9]{1,2})"
                r"(?:\.(?P<year>[0-9]{4}|[0-9]{2}))?\.?" + _END), _on_dotted),
    (re.compile(rf"(?:on\s+)?(?P<month>{_MONTH})\.?\s+(?:the\s+)?(?P<day>[0-9]{{1,2}}){_ORDINAL}?"
                rf"(?:,?\s+(?P<year>20[0-9]{{2}}))?{_END}"), _on_month_name_date),
    (re.compile(rf"(?:on\s+)?(?:the\s+)?(?P<day>[0-9]{{1,2}}){_ORDINAL}?\s+(?:of\s+)?"
                rf"(?P<month>{_MONTH})\.?(?:,?\s+(?P<year>20[0-9]{{2}}))?{_END}"), _on_month_name_date),
    (re.compile(r"(?:at\s+|by\s+|on\s+)?(?:the\s+)?(?:end|last\s+day)\s+of\s+(?:the\s+|this\s+)?month" + _END),
     _on_month_end),
    (re.compile(r"(?:on\s+)?(?:the\s+)?last\s+day" + _END), _on_last_day),
    (re.compile(rf"(?:on\s+)?(?:the\s+)?(?P<nth>[1-5](?:st|nd|rd|th)|last)\s+{_WEEKDAY_WORD}{_END}"),
     _on_nth_weekday),
    (re.compile(rf"(?:on\s+)?(?:the\s+(?P<day>[0-9]{{1,2}}){_ORDINAL}?|(?P<bare_day>[0-9]{{1,2}}){_ORDINAL})"
                rf"(?P<more>(?:\s*(?:,\s*and|,|and|&)\s*(?:the\s+)?[0-9]{{1,2}}{_ORDINAL})+)?"
                rf"(?:\s+of\s+(?:the|this)\s+month|\s+of\s+(?P<next_month>next)\s+month)?{_END}"),
     _on_month_day),
    # "a week from friday", "2 weeks from tomorrow", British "a week tomorrow", "a week on monday"
    (re.compile(r"(?P<count>an?|[0-9]{1,2})\s+weeks?\s+(?:(?:from|after|on)\s+(?!now|today\b)|(?=today|tomorrow))"),
     _on_weeks_from),
    (re.compile(rf"(?:on\s+|at\s+|for\s+)?(?P<holiday>{HOLIDAY_PATTERN})(?:,?\s+(?P<year>20[0-9]{{2}}))?{_END}"),
     _on_holiday),
    (re.compile(r"(?P<day>today|tonight|tomorrow|(?:the\s+)?day\s+after\s+tomorrow)" + _END), _on_relative_day),
    (re.compile(r"(?:(?P<this>this)\s+|in\s+the\s+|at\s+|during\s+the\s+)?(?P<part>morning|afternoon|evening|night)"
                + _END), _on_part),
    (re.compile(rf"(?:on\s+)?(?:the\s+)?{_WEEKDAY_WORD}\s+(?:after\s+next|week){_END}"), _on_weekday_after_next),
    (re.compile(rf"(?:on\s+)?{_WEEKDAY_WORD}\s+(?:of\s+)?next\s+week{_END}"
                rf"|next\s+week\s+(?:on\s+)?(?P<weekday_after>{_WEEKDAY})\.?{_END}"), _on_weekday_of_next_week),
    (re.compile(rf"(?:on\s+)?(?:(?P<modifier>next|this|coming|this\s+coming|the\s+coming)\s+)?{_WEEKDAY_WORD}{_END}"),
     _on_weekday),
    (re.compile(r"(?:next|the\s+following)\s+week" + _END), _on_next_week),
    (re.compile(r"(?:(?:on|at|over|for)\s+(?:(?P<modifier>this|next|the)\s+)?|(?P<alone>this|next|the)\s+)weekend"
                + _END), _on_weekend),
    (re.compile(r"(?:at\s+|@\s*|by\s+)?(?:12\s+)?(?P<name>noon|midday|midnight)" + _END), _on_named_time),
    (re.compile(r"(?:(?P<at>at|@)\s*)?(?:(?P<compact>[0-9]{3,4})(?=\s*(?:a|p|$|[\s,]))"
                r"|(?P<h_hour>[0-9]{1,2})h(?P<h_minute>[0-9]{2})?"
                r"|(?P<hour>[0-9]{1,2})(?:[:.](?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?)?)"
                r"\s*(?P<meridiem>a\.?m\.?|p\.?m\.?|a|p)?"
                r"(?P<oclock>\s+o'clock)?" + _END), _on_clock),
    (re.compile(r"(?:on|at|by|@|around|about|approximately|approx|local\s+time|my\s+time)" + _END), _on_filler),
    (re.compile(rf"(?:in\s+)?(?P<zone>{_CITY})(?P<time>\s+time)?{_END}"), _on_city),
    (re.compile(r"(?P<zone>(?:eastern|central|mountain|pacific|alaska|hawaii|[a-z]{1,4})"
                r"(?:\s+time)?|[a-z]+(?:/[a-z0-9_+\-]+)+)" + _END), _on_zone),
]


def read_slots(phrase: str, day_first: bool) -> Slots | TimeProblem:
    """Split a when-phrase into slots; every word must fit one, each slot at most once."""
    if len(phrase) > 4 * MAX_PHRASE_LENGTH:
        return TimeProblem("unreadable", phrase.strip())
    text = normalize_phrase(phrase)
    if len(text) > MAX_PHRASE_LENGTH:
        return TimeProblem("unreadable", phrase.strip())
    text = respell(text)
    slots = Slots()
    position = 0
    while position < len(text):
        for pattern, fill in _RULES:
            match = pattern.match(text, position)
            if match is not None:
                break
        else:
            return TimeProblem("unreadable", phrase.strip())
        problem = fill(match, slots, day_first)
        if problem is not None:
            return problem if problem.fragment else TimeProblem(problem.kind, phrase.strip())
        position = match.end()
        while position < len(text) and text[position] in " ,":
            position += 1
    if not slots.filled or slots.filled == ["zone"]:
        return TimeProblem("unreadable", phrase.strip())
    if slots.clock is not None and slots.clock.needs_day and not any(name in slots.filled for name in DAY_SLOTS):
        return TimeProblem("unreadable", phrase.strip())
    if "week_shift" in slots.filled:
        slots.filled.remove("week_shift")  # part of the weekday slot
    return slots


def named_parts(phrase: str, day_first: bool) -> frozenset[str]:
    """Return the slots a one-off when-phrase fills ("dec 4" a date, "3pm" a clock); empty when unreadable."""
    slots = read_slots(phrase, day_first)
    return frozenset() if isinstance(slots, TimeProblem) else frozenset(slots.filled)


# --- resolving slots into an instant --------------------------------------------------------


def _next_weekday(today: date, weekday: int) -> date:
    """Return the next ``weekday`` after ``today``, never today itself."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def clock_hours(slots: Slots, day_given: bool) -> list[tuple[int, int]]:
    """Return the (day offset, hour) candidates the clock could mean, nearest reading first.

    A bare 1-12 with no part of the day is both its morning and evening reading; on a named
    day the nearest on that day is the morning one, except that 12 is noon.
    """
    clock = slots.clock
    assert clock is not None
    if clock.midnight:
        # "tonight at midnight", "today at midnight": the end of today.
        return [(1, 0)] if slots.relative_day == 0 else [(0, 0)]
    if not clock.ambiguous:
        return [(0, clock.hour)]
    hour = clock.hour % 12
    if slots.part == "morning":
        return [(0, hour)]
    if slots.part in ("afternoon", "evening"):
        return [(0, hour + 12)]
    if slots.part == "night":
        # "tonight at 12" is midnight and "tonight at 2" is 2 AM, both after midnight.
        return [(1, hour)] if clock.hour == 12 or hour < 5 else [(0, hour + 12)]
    if day_given:
        return [(0, 12)] if clock.hour == 12 else [(0, hour)]
    return [(0, hour), (0, hour + 12)]


def _is_bare_hour(slots: Slots) -> bool:
    """Say whether the clock is a bare 1-12 with no part of the day: morning or evening is up to context."""
    return slots.clock is not None and slots.clock.ambiguous and slots.part is None


def other_half_of_day(slots: Slots, wall: datetime) -> datetime | None:
    """Return the other am/pm reading of a bare hour read at night, when that one is a waking hour."""
    if _is_bare_hour(slots) and wall.hour < NIGHT_END and wall.hour + 12 >= NIGHT_END:
        return wall + timedelta(hours=12)
    return None


def has_evening_reading(slots: Slots, hour: int) -> bool:
    """Say whether a bare hour read as ``hour`` (in the morning) may be meant in the evening, 12 hours on."""
    return _is_bare_hour(slots) and 1 <= hour < 12


def _time_of_day(slots: Slots, default: time) -> time:
    if slots.part:
        return PART_TIMES[slots.part]
    return default


DAY_SLOTS = ("date", "month_day", "relative_day", "weekday", "next_week", "weekend", "month_end", "holiday",
              "nth_weekday")


def _date_candidates(slots: Slots, today: date, region: str | None
                     ) -> tuple[list[date], list[date] | None] | TimeProblem:
    """Return the days a day slot could mean, soonest first, and another reading's days when ambiguous."""
    named = [name for name in DAY_SLOTS if name in slots.filled]
    if len(named) > 1 and sorted(named) != ["date", "weekday"]:
        return TimeProblem("conflict", "")
    if slots.date is not None:
        year, month, day = slots.date
        years = [year] if year is not None else list(range(today.year, today.year + 9))
        found = []
        for candidate_year in years:
            try:
                found.append(date(candidate_year, month, day))
            except ValueError:
                continue
        if not found:
            return TimeProblem("impossible", "")
        if slots.weekday is not None and found[0].weekday() != slots.weekday:
            return TimeProblem("conflict", "")
        return found, None
    if slots.month_day == -1:  # "on the last day": of this month, or the next
        following = add_months(today.replace(day=1), 1)
        return [today.replace(day=_days_in_month(today)), following.replace(day=_days_in_month(following))], None
    if slots.month_day is not None:
        found = []
        for step in (1,) if slots.next_month else range(0, 14):
            month_index = today.month - 1 + step
            try:
                found.append(date(today.year + month_index // 12, month_index % 12 + 1, slots.month_day))
            except ValueError:
                continue
        return (found, None) if found else TimeProblem("impossible", "")
    if slots.relative_day is not None:
        return [today + timedelta(days=slots.relative_day)], None
    if slots.weekday is not None:
        return _weekday_dates(slots, today)
    if slots.next_week:
        monday = today + timedelta(days=7 - today.weekday())
        return [monday], ([monday + timedelta(days=7)] if today.weekday() == 6 else None)
    if slots.weekend is not None:
        return _weekend_dates(slots.weekend, today)
    if slots.month_end:
        return [today.replace(day=_days_in_month(today))], None
    if slots.holiday is not None:
        name, year = slots.holiday
        years = [year] if year is not None else [today.year, today.year + 1]
        found = [day for day in (holiday_date(name, candidate, region) for candidate in years) if day is not None]
        return (found, None) if found else TimeProblem("unreadable", "")
    if slots.nth_weekday is not None:
        return TimeProblem("unreadable", "")  # "the first tuesday" only in a monthly repeat
    return [], None


def _days_in_month(today: date) -> int:
    following = add_months(today.replace(day=1), 1)
    return (following - timedelta(days=1)).day


def _weekday_dates(slots: Slots, today: date) -> tuple[list[date], list[date] | None]:
    assert slots.weekday is not None
    coming = _next_weekday(today, slots.weekday)
    week = timedelta(days=7)
    if slots.week_shift == "after_next":
        return [coming + week], None
    if slots.week_shift == "next_week":
        in_next_week = today + timedelta(days=7 - today.weekday() + slots.weekday)
        return [in_next_week], ([in_next_week + week] if today.weekday() == 6 else None)
    if slots.week_shift == "next" and coming == today + timedelta(days=1):
        return [coming], [coming + week]  # "next friday" on a Thursday
    return [coming], None


def _weekend_dates(which: str, today: date) -> tuple[list[date], list[date] | None]:
    weekday = today.weekday()
    saturday = today - timedelta(days=weekday - 5) if weekday >= 5 else _next_weekday(today, 5)
    days = [saturday, saturday + timedelta(days=1)]
    if which == "this":
        return [day for day in days if day >= today], None
    week = timedelta(days=7)
    if weekday >= 5:
        return [day + week for day in days], None
    return days, [day + week for day in days]


def resolve(slots: Slots, now: datetime, zone_name: str, default_time: time = DEFAULT_TIME,
            phrase: str = "", *, region: str | None = None) -> Reading:
    """Turn slots into the next matching instant after ``now``, in the slots' or sender's zone."""
    found = _resolve(slots, now, zone_name, default_time, phrase, MAX_AHEAD, region)
    return found if isinstance(found, TimeProblem) else found[0]


def resolve_end(slots: Slots, now: datetime, zone_name: str, default_time: time,
                phrase: str, *, region: str | None = None) -> datetime | TimeProblem:
    """Return the naive local wall time slots name as an end ("until dec 31"), however far; 02:30 stays 02:30."""
    found = _resolve(slots, now, zone_name, default_time, phrase, None, region)
    return found if isinstance(found, TimeProblem) else found[1]


def _earliest(candidates: list[tuple[datetime, datetime]], now: datetime) -> tuple[datetime, datetime]:
    """Return the first (instant, wall) after ``now``, else the latest one (to say it is past)."""
    # Order by instant: in a fall-back fold, wall-time order is not time order.
    ahead = [candidate for candidate in candidates if candidate[0] > now]
    return (min(ahead, key=lambda candidate: candidate[0].timestamp()) if ahead
            else max(candidates, key=lambda candidate: candidate[0].timestamp()))


def _resolve(slots: Slots, now: datetime, zone_name: str, default_time: time, phrase: str,
             horizon: timedelta | None, region: str | None = None) -> tuple[Moment, datetime] | TimeProblem:
    """Return the next matching instant after ``now`` and the wall time it was read as."""
    zone_name = slots.zone or zone_name
    zone = ZoneInfo(zone_name)
    local_now = now.astimezone(zone)
    today = local_now.date()

    if slots.elapsed is not None:
        elapsed = slots.elapsed
        others = [name for name in slots.filled if name not in ("elapsed", "zone", "clock")]
        if others or (slots.clock is not None and elapsed.seconds):
            return TimeProblem("conflict", phrase)
        if elapsed.months > 12 or elapsed.days * 86400 + elapsed.seconds > MAX_AHEAD.total_seconds() + 86400 * 7:
            return TimeProblem("too_far", phrase)
        if slots.clock is None:
            moment = ceil_second(now).astimezone(zone)
            if elapsed.days or elapsed.months:
                wall = moment.replace(tzinfo=None)
                wall = datetime.combine(add_months(wall.date(), elapsed.months), wall.time())
                moment = localize(wall + timedelta(days=elapsed.days), zone)
            moment = add_elapsed(moment, elapsed.seconds)
            return _checked(moment, moment.replace(tzinfo=None), now, zone_name, phrase, horizon)

    found = _date_candidates(slots, today, region)
    if isinstance(found, TimeProblem):
        return TimeProblem(found.kind, phrase)
    days, other_days = found
    if slots.more_month_days:
        return TimeProblem("unreadable", phrase)  # "the 1st and 15th" is a monthly repeat, not one time
    if slots.plus_days:
        if not days:
            return TimeProblem("unreadable", phrase)  # "a week from" needs a day to count from
        days = [day + timedelta(days=slots.plus_days) for day in days]
        other_days = [day + timedelta(days=slots.plus_days) for day in other_days] if other_days else None
    if slots.elapsed is not None:  # "in 3 days at 5pm": a calendar day and a clock time
        days = [add_months(today, slots.elapsed.months) + timedelta(days=slots.elapsed.days)]
    day_given = bool(days) and slots.relative_day != 0
    if slots.clock is not None:
        clock = slots.clock
        hours = clock_hours(slots, day_given)
        if slots.tonight and clock.hour < 5 and not clock.ambiguous:
            hours = [(1, clock.hour)]  # "tonight at 1am" is after midnight
        times = [(offset, time(hour, clock.minute, clock.second)) for offset, hour in hours]
    else:
        times = [(0, _time_of_day(slots, default_time))]
    if not days:
        days = [today, today + timedelta(days=1)]
    candidates = [(localize(wall, zone), wall)
                  for wall in (datetime.combine(day + timedelta(days=offset), moment)
                               for day in days for offset, moment in times)]
    send_at, wall = _earliest(candidates, now)

    # Every other reading the phrase allows: the other week's day, the other half of the day, the
    # end of a named day at midnight, the date a dotted pair can be. Each of the first three
    # applies to every day reading, so two at once give their product ("next friday at 3").
    walls = [wall]
    if other_days:
        walls.append(_earliest([(localize(datetime.combine(day + timedelta(days=offset), moment), zone),
                                  datetime.combine(day + timedelta(days=offset), moment))
                                 for day in other_days for offset, moment in times], now)[1])
    readings: list[datetime] = []
    for day_wall in walls:
        readings.append(day_wall)
        half = other_half_of_day(slots, day_wall)
        if half is not None:
            readings.append(half)
        if slots.clock is not None and slots.clock.midnight and day_given:
            readings.append(day_wall + timedelta(days=1))  # "friday at midnight": its start or its end
    others = [localize(reading, zone) for reading in readings[1:]]
    if (slots.clock is not None and slots.clock.date_alternative is not None
            and not any(name in slots.filled for name in DAY_SLOTS)):
        month, day = slots.clock.date_alternative
        dated = Slots(date=(None, month, day), filled=["date"], zone=slots.zone)
        reading = _resolve(dated, now, zone_name, default_time, phrase, horizon, region)
        if not isinstance(reading, TimeProblem):  # else the date is past or too far: only the time remains
            others.append(reading[0].send_at)
    checked = _checked(send_at, wall, now, zone_name, phrase, horizon)
    if isinstance(checked, TimeProblem):
        return checked
    evening = _evening_of(slots, wall, zone)
    if evening is not None:
        checked = (replace(checked[0], evening=evening), checked[1])
    if not others:
        return checked
    # A reading that is past or too far is no choice.
    choices = [other for other in dict.fromkeys(ceil_second(other) for other in others)
               if other > now and (horizon is None or other - ceil_second(now) <= horizon)]
    moment, asked = checked
    choices = [choice for choice in choices if choice != moment.send_at]
    if not choices:
        return checked
    if len(choices) == 1:
        return replace(moment, ambiguous_with=choices[0]), asked
    ordered = tuple(sorted({moment.send_at, *choices}, key=lambda choice: choice.timestamp()))
    return TimeProblem("ambiguous", phrase, ordered)


def _evening_of(slots: Slots, wall: datetime, zone: ZoneInfo) -> datetime | None:
    """Return the evening reading (same day) of a bare hour that was read in the morning."""
    if not has_evening_reading(slots, wall.hour):
        return None
    return ceil_second(localize(wall + timedelta(hours=12), zone))


def _checked(send_at: datetime, wall: datetime, now: datetime, zone_name: str, phrase: str,
             horizon: timedelta | None) -> tuple[Moment, datetime] | TimeProblem:
    if send_at <= now:
        return TimeProblem("past", phrase)
    # Against now rounded up as elapsed times are, so "in 365 days" is never refused for a fraction of a second.
    if horizon is not None and send_at - ceil_second(now) > horizon:
        return TimeProblem("too_far", phrase)
    return Moment(ceil_second(send_at), zone_name), wall


def read_when(phrase: str, now: datetime, zone: str, day_first: bool, *, region: str | None = None) -> Reading:
    """Read a one-off when-phrase with our own rules; no dateparser here."""
    slots = read_slots(phrase, day_first)
    if isinstance(slots, TimeProblem):
        return slots
    return resolve(slots, now, zone, phrase=phrase.strip(), region=region)


# --- dateparser fallback --------------------------------------------------------------------

_FALLBACK_MAX_LENGTH = 60
_ELAPSED_WORDS = re.compile(r"\b(?:in|from now|later|hence|fortnight)\b")
# Phrases dateparser answers with a confident guess: vague counts, spelled or run-together
# numbers ("at two" became a date months away, "in 1h30" 1:30 AM, "0930" 9:00), "next month".
_FALLBACK_REFUSES = re.compile(
    r"\b(?:few|several|some|couple|other|next|this|last|twice|thrice|after|before|work|school|lunch|dinner"
    r"|breakfast|soon|later today|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half|quarter"
    r"|week|month|year|weekend)\b|[0-9]{3,}|[0-9]h[0-9]|[0-9]\.[0-9]"
    r"|^in [0-9]+$"  # "in 5" with no unit: dateparser reads a month or a day, a person means minutes or hours
    r"|[0-9][a-z]+[0-9]")  # letters between digits ("96d9nd", a reminder's id): dateparser reads a date into it


def read_fallback(phrase: str, now: datetime, zone: str, day_first: bool) -> Moment | None:
    """Ask dateparser about a one-off phrase our rules don't cover; None unless it is sound.

    Imported here, not at module level, so ``import bot.language.parser`` stays cheap. The base
    is a naive local time because an aware RELATIVE_BASE makes "3pm" return None
    (dateparser #1213), and languages=["en"] keeps "to" from being Finnish (#330).
    """
    text = normalize_phrase(phrase)
    if not text or len(text) > _FALLBACK_MAX_LENGTH or text.startswith(("every ", "each ")):
        return None
    if _FALLBACK_REFUSES.search(text):
        return None
    from dateparser.date import DateDataParser

    tz = ZoneInfo(zone)
    base = ceil_second(now).astimezone(tz).replace(tzinfo=None)  # "in 5 seconds" is never early
    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "DATE_ORDER": "DMY" if day_first else "MDY",
        "PARSERS": ["relative-time", "absolute-time"],
    }
    # Settings carry RELATIVE_BASE, so one parser per call; dateparser caches the locale data.
    data = DateDataParser(languages=["en"], settings=settings).get_date_data(text)
    found = data.date_obj
    if found is None or found.tzinfo is not None:
        return None
    if "time" not in (getattr(data, "parts", None) or ()) and not _ELAPSED_WORDS.search(text):
        # A day with no time comes back at midnight or at the base's clock time (#802); we say 09:00.
        found = datetime.combine(found.date(), DEFAULT_TIME)
    send_at = localize(ceil_second(found), tz)
    if send_at <= now or send_at - now > MAX_AHEAD:
        return None
    return Moment(send_at, zone)
