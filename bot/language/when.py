"""Read when-phrases ("tomorrow 9am", "in 2h", "dec 3 at 5pm PST") into aware datetimes.

A phrase is read as a set of slots (elapsed time, day, time of day, zone), each
filled at most once, in any order; every word must belong to a slot. Wall times
are read in the sender's zone unless the phrase names one, and a wall time that
falls in a DST gap moves forward by the gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Callable, Union
from zoneinfo import ZoneInfo, available_timezones

from bot.language.commands import MAX_DAYS_AHEAD
from bot.series import localize

DEFAULT_TIME = time(9, 0)
PART_TIMES = {"morning": time(9), "afternoon": time(15), "evening": time(18), "night": time(20)}
MAX_AHEAD = timedelta(days=MAX_DAYS_AHEAD)
# Anything beyond this cannot be within MAX_AHEAD, and keeps timedelta from overflowing.
_MAX_UNITS = 10**6

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
UNIT_DAYS = {"d": 1, "w": 7}


def alternation(words: object) -> str:
    """Return a regex alternation of ``words``, longest first so prefixes don't win."""
    return "|".join(sorted((re.escape(str(word)) for word in words), key=len, reverse=True))


_END = r"(?=[\s,]|$)"
_MONTH = alternation(_MONTHS)
_WEEKDAY = alternation(WEEKDAYS)
# Digits may touch their unit ("2h"); words may not ("an d" is not "and").
_COUNT = r"(?:[0-9]+(?:\.[0-9]+)?\s*|(?:" + alternation(NUMBER_WORDS) + r")\s+)"
_UNIT = (r"(?P<unit>seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w)")
UNIT_PATTERN = re.compile(
    r"(?:seconds?|secs?|s)|(?:minutes?|mins?|m)|(?:hours?|hrs?|h)|(?:days?|d)|(?:weeks?|wks?|w)")
_DURATION_PART = re.compile(
    rf"(?:and\s+)?(?P<number>[0-9]+(?:\.[0-9]+)?(?=\s*[a-z])|{alternation(NUMBER_WORDS)}(?=\s))"
    rf"\s*{_UNIT}(?=[\s,0-9]|$)")
_ONE_PART = rf"{_COUNT}(?:{UNIT_PATTERN.pattern})(?=[\s,0-9]|$)"
_DURATION = rf"{_ONE_PART}(?:[\s,]*(?:and\s+)?{_ONE_PART})*(?:\s+and\s+a\s+half)?"
_ORDINAL = r"(?:st|nd|rd|th)"


@dataclass(frozen=True)
class Duration:
    """A span: calendar days (keep the clock time) plus elapsed real seconds."""

    days: int = 0
    seconds: int = 0


@dataclass(frozen=True)
class Clock:
    """A time of day as written; ``meridiem`` is "am", "pm" or None (bare or 24-hour)."""

    hour: int
    minute: int = 0
    second: int = 0
    meridiem: str | None = None
    ambiguous: bool = False  # a bare 1-12 with no am/pm: morning or evening is up to context
    bare: bool = False  # just a number, no "at", colon or am/pm


@dataclass
class Slots:
    """What a when-phrase said, slot by slot."""

    elapsed: Duration | None = None
    date: tuple[int | None, int, int] | None = None  # (year or None, month, day)
    month_day: int | None = None  # "on the 5th"
    relative_day: int | None = None  # 0 today, 1 tomorrow, 2 the day after
    weekday: int | None = None
    part: str | None = None  # morning, afternoon, evening, night
    clock: Clock | None = None
    zone: str | None = None
    tonight: bool = False
    filled: list[str] = field(default_factory=list)

    def is_only_bare_number(self) -> bool:
        """Say whether the phrase was a lone number ("7"), too weak to find inside text."""
        return self.filled == ["clock"] and self.clock is not None and self.clock.bare


@dataclass(frozen=True)
class TimeProblem:
    """Why a when-phrase gave no time: unreadable, conflict, impossible, past, too_far, ..."""

    kind: str  # "conflict": every word known, but they disagree ("in 2 hours at 5pm")
    fragment: str

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
    # hour, the other one. The parser asks "5 AM or 5 PM?" instead of guessing.
    ambiguous_with: datetime | None = None


Reading = Union[Moment, TimeProblem]


def normalize_phrase(phrase: str) -> str:
    """Lowercase, collapse spaces and drop trailing sentence punctuation."""
    text = " ".join(phrase.lower().replace("\u2019", "'").split())
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


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    # Built on first use: listing tzdata touches the disk, so not at import time.
    return {name.lower(): name for name in available_timezones()}


def find_zone(name: str) -> str | None:
    """Return the IANA zone for a name or alias ("pacific", "PST", "europe/paris"), or None."""
    key = " ".join(name.lower().split()).removesuffix(" time").strip()
    if key in ZONE_ALIASES:
        return ZONE_ALIASES[key]
    return _zone_names().get(key.replace(" ", "_"))


def parse_duration(text: str) -> Duration | None:
    """Read "10 minutes", "1h20m", "an hour and a half", "half an hour"; None if not a duration."""
    text = normalize_phrase(text)
    if text in ("half an hour", "half hour", "a half hour"):
        return Duration(seconds=1800)
    half = text.endswith(" and a half")
    if half:
        text = text.removesuffix(" and a half")
    days = seconds = 0
    position = 0
    last_unit = ""
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            return None
        raw, unit = match["number"], match["unit"][0]
        value = float(raw) if raw[0].isdigit() else float(NUMBER_WORDS[raw])
        if value > _MAX_UNITS:
            value = _MAX_UNITS
        if unit in UNIT_DAYS:
            if value != int(value):
                return None  # "1.5 days" has no clean calendar meaning
            days += int(value) * UNIT_DAYS[unit]
        else:
            seconds += round(value * UNIT_SECONDS[unit])
        last_unit = unit
        position = match.end()
        while position < len(text) and text[position] in " ,":
            position += 1
    if position == 0:
        return None
    if half:
        if last_unit in UNIT_DAYS:
            seconds += 12 * 3600 * UNIT_DAYS[last_unit]
        else:
            seconds += UNIT_SECONDS[last_unit] // 2
    return Duration(days=days, seconds=seconds)


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


def _on_half_hour(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return _fill(slots, "elapsed", Duration(seconds=1800))


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
    return _fill(slots, "weekday", WEEKDAYS[match["weekday"]])


def _year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return value + 2000 if value < 100 else value


def _on_month_name_date(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    day, month = int(match["day"]), _MONTHS[match["month"]]
    return _fill(slots, "date", (_year(match["year"]), month, day))


def _on_numeric_date(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    first, second = int(match["first"]), int(match["second"])
    month, day = (second, first) if day_first else (first, second)
    return _fill(slots, "date", (_year(match["year"]), month, day))


def _on_iso_date(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    problem = _fill(slots, "date", (int(match["year"]), int(match["month"]), int(match["day"])))
    if problem or match["hour"] is None:
        return problem
    clock = Clock(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    return _fill(slots, "clock", clock)


def _on_month_day(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return _fill(slots, "month_day", int(match["day"] or match["bare_day"]))


def _on_named_time(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    hour = 0 if match["name"] == "midnight" else 12
    return _fill(slots, "clock", Clock(hour, 0, 0, meridiem=None))


def _on_clock(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    hour = int(match["hour"])
    minute = int(match["minute"] or 0)
    second = int(match["second"] or 0)
    meridiem = None
    if match["meridiem"]:
        meridiem = "am" if match["meridiem"][0] == "a" else "pm"
    fragment = match.group(0).removeprefix("at").strip(" @")
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
        ambiguous = 1 <= hour <= 12 and not match["hour"].startswith("0")
        bare = match["at"] is None and match["minute"] is None
        clock = Clock(hour, minute, second, None, ambiguous=ambiguous, bare=bare)
    return _fill(slots, "clock", clock)


def _on_zone(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    zone = find_zone(match["zone"])
    if zone is None:
        return TimeProblem("unreadable", "")
    return _fill(slots, "zone", zone)


def _on_filler(match: re.Match[str], slots: Slots, day_first: bool) -> TimeProblem | None:
    return None


_RULES: list[tuple[re.Pattern[str], SlotFiller]] = [
    (re.compile(r"in\s+half\s+an?\s+hour" + _END), _on_half_hour),
    (re.compile(r"(?:in|after)\s+(?P<duration>" + _DURATION + r")" + _END), _on_elapsed),
    (re.compile(r"(?:on\s+)?(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
                r"(?:t(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?)?" + _END),
     _on_iso_date),
    (re.compile(r"(?:on\s+)?(?P<first>[0-9]{1,2})/(?P<second>[0-9]{1,2})"
                r"(?:/(?P<year>[0-9]{4}|[0-9]{2}))?" + _END), _on_numeric_date),
    (re.compile(rf"(?:on\s+)?(?P<month>{_MONTH})\.?\s+(?:the\s+)?(?P<day>[0-9]{{1,2}}){_ORDINAL}?"
                rf"(?:,?\s+(?P<year>20[0-9]{{2}}))?{_END}"), _on_month_name_date),
    (re.compile(rf"(?:on\s+)?(?:the\s+)?(?P<day>[0-9]{{1,2}}){_ORDINAL}?\s+(?:of\s+)?"
                rf"(?P<month>{_MONTH})\.?(?:,?\s+(?P<year>20[0-9]{{2}}))?{_END}"), _on_month_name_date),
    (re.compile(rf"(?:on\s+)?(?:the\s+(?P<day>[0-9]{{1,2}}){_ORDINAL}?|(?P<bare_day>[0-9]{{1,2}}){_ORDINAL}){_END}"),
     _on_month_day),
    (re.compile(r"(?P<day>today|tonight|tomorrow|tmrw|tmr|tomorow|tommorow|2morrow"
                r"|(?:the\s+)?day\s+after\s+tomorrow)" + _END), _on_relative_day),
    (re.compile(r"(?:(?P<this>this)\s+|in\s+the\s+|at\s+)?(?P<part>morning|afternoon|evening|night)"
                + _END), _on_part),
    (re.compile(rf"(?:on\s+)?(?:(?:next|this|coming|this\s+coming)\s+)?(?P<weekday>{_WEEKDAY})\.?{_END}"),
     _on_weekday),
    (re.compile(r"(?:at\s+|@\s*)?(?:12\s+)?(?P<name>noon|midday|midnight)" + _END), _on_named_time),
    (re.compile(r"(?:(?P<at>at|@)\s*)?(?P<hour>[0-9]{1,2})(?:[:.](?P<minute>[0-9]{2})"
                r"(?::(?P<second>[0-9]{2}))?)?\s*(?P<meridiem>a\.?m\.?|p\.?m\.?|a|p)?"
                r"(?:\s+o'?clock)?" + _END), _on_clock),
    (re.compile(r"(?:on|at|by|@)" + _END), _on_filler),
    (re.compile(r"(?P<zone>(?:eastern|central|mountain|pacific|alaska|hawaii|[a-z]{1,4})"
                r"(?:\s+time)?|[a-z]+(?:/[a-z0-9_+\-]+)+)" + _END), _on_zone),
]


def read_slots(phrase: str, day_first: bool) -> Slots | TimeProblem:
    """Split a when-phrase into slots; every word must fit one, each slot at most once."""
    text = normalize_phrase(phrase)
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
    return slots


# --- resolving slots into an instant --------------------------------------------------------


def _next_weekday(today: date, weekday: int) -> date:
    """Return the next ``weekday`` after ``today``, never today itself."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def clock_hours(slots: Slots, day_given: bool) -> list[tuple[int, int]]:
    """Return the (day offset, hour) candidates the clock could mean."""
    clock = slots.clock
    assert clock is not None
    if not clock.ambiguous:
        return [(0, clock.hour)]
    hour = clock.hour % 12
    if slots.part == "morning":
        return [(0, hour)]
    if slots.part in ("afternoon", "evening", "night"):
        # "tonight at 12" is midnight, at the end of the day.
        return [(1, 0)] if clock.hour == 12 and slots.part == "night" else [(0, hour + 12)]
    if day_given:
        # With a day named, 7-11 are morning, 12 is noon and 1-6 are afternoon or evening.
        return [(0, clock.hour)] if clock.hour >= 7 else [(0, clock.hour + 12)]
    return [(0, hour), (0, hour + 12)]


def _time_of_day(slots: Slots, default: time) -> time:
    if slots.part:
        return PART_TIMES[slots.part]
    return default


def _date_candidates(slots: Slots, today: date) -> list[date] | TimeProblem:
    """Return the days a day slot could mean, soonest first (several when no year is given)."""
    named = [name for name in ("date", "month_day", "relative_day", "weekday") if name in slots.filled]
    if len(named) > 1 and named != ["date", "weekday"] and named != ["weekday", "date"]:
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
        return found
    if slots.month_day is not None:
        found = []
        for step in range(0, 14):
            month_index = today.month - 1 + step
            try:
                found.append(date(today.year + month_index // 12, month_index % 12 + 1, slots.month_day))
            except ValueError:
                continue
        return found or TimeProblem("impossible", "")
    if slots.relative_day is not None:
        if slots.weekday is not None:
            return TimeProblem("unreadable", "")
        return [today + timedelta(days=slots.relative_day)]
    if slots.weekday is not None:
        return [_next_weekday(today, slots.weekday)]
    return []


def resolve(slots: Slots, now: datetime, zone_name: str, default_time: time = DEFAULT_TIME,
            phrase: str = "") -> Reading:
    """Turn slots into the next matching instant after ``now``, in the slots' or sender's zone."""
    found = _resolve(slots, now, zone_name, default_time, phrase, MAX_AHEAD)
    return found if isinstance(found, TimeProblem) else found[0]


def resolve_end(slots: Slots, now: datetime, zone_name: str, default_time: time,
                phrase: str) -> datetime | TimeProblem:
    """Return the naive local wall time slots name as an end ("until dec 31"), however far; 02:30 stays 02:30."""
    found = _resolve(slots, now, zone_name, default_time, phrase, None)
    return found if isinstance(found, TimeProblem) else found[1]


def _resolve(slots: Slots, now: datetime, zone_name: str, default_time: time, phrase: str,
             horizon: timedelta | None) -> tuple[Moment, datetime] | TimeProblem:
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
        if slots.clock is not None:  # "in 3 days at 5pm": a calendar day and a clock time
            slots.relative_day = elapsed.days
        else:
            if elapsed.days * 86400 + elapsed.seconds > MAX_AHEAD.total_seconds() + 86400 * 7:
                return TimeProblem("too_far", phrase)
            moment = ceil_second(now).astimezone(zone)
            if elapsed.days:
                moment = localize(moment.replace(tzinfo=None) + timedelta(days=elapsed.days), zone)
            moment = add_elapsed(moment, elapsed.seconds)
            return _checked(moment, moment.replace(tzinfo=None), now, zone_name, phrase, horizon)

    days = _date_candidates(slots, today)
    if isinstance(days, TimeProblem):
        return TimeProblem(days.kind, phrase)
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
    # Order by instant: in a fall-back fold, wall-time order is not time order.
    ahead = [candidate for candidate in candidates if candidate[0] > now]
    send_at, wall = (min(ahead, key=lambda candidate: candidate[0].timestamp()) if ahead
                     else max(candidates, key=lambda candidate: candidate[0].timestamp()))
    return _checked(send_at, wall, now, zone_name, phrase, horizon)


def _checked(send_at: datetime, wall: datetime, now: datetime, zone_name: str, phrase: str,
             horizon: timedelta | None) -> tuple[Moment, datetime] | TimeProblem:
    if send_at <= now:
        return TimeProblem("past", phrase)
    # Against now rounded up as elapsed times are, so "in 365 days" is never refused for a fraction of a second.
    if horizon is not None and send_at - ceil_second(now) > horizon:
        return TimeProblem("too_far", phrase)
    return Moment(ceil_second(send_at), zone_name), wall


def read_when(phrase: str, now: datetime, zone: str, day_first: bool) -> Reading:
    """Read a one-off when-phrase with our own rules; no dateparser here."""
    slots = read_slots(phrase, day_first)
    if isinstance(slots, TimeProblem):
        return slots
    return resolve(slots, now, zone, phrase=phrase.strip())


# --- dateparser fallback --------------------------------------------------------------------

_FALLBACK_MAX_LENGTH = 60
_ELAPSED_WORDS = re.compile(r"\b(?:in|from now|later|hence|fortnight)\b")


def read_fallback(phrase: str, now: datetime, zone: str, day_first: bool) -> Moment | None:
    """Ask dateparser about a one-off phrase our rules don't cover; None unless it is sound.

    Imported here, not at module level, so ``import bot.language.parser`` stays cheap. The base
    is a naive local time because an aware RELATIVE_BASE makes "3pm" return None
    (dateparser #1213), and languages=["en"] keeps "to" from being Finnish (#330).
    """
    text = normalize_phrase(phrase)
    if not text or len(text) > _FALLBACK_MAX_LENGTH or text.startswith(("every ", "each ")):
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
