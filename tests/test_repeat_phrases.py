"""Repeats people ask for, read by bot.language.repeats into an RRULE and described by bot.series.describe_rule.

Each row has a fixed ``now`` and a first occurrence worked out by hand from a calendar; the rule is
compared as written. Every description must read back as the same series (the same occurrences),
since the confirmation quotes it and a person may send it back.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.language.repeats import is_recurring, read_schedule
from bot.language.when import Moment, TimeProblem
from bot.series import Series, describe_rule, upcoming

NY, LA, LONDON, PARIS, SYDNEY = "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Paris", \
    "Australia/Sydney"
DAY_FIRST = {NY: False, LA: False, LONDON: True, PARIS: True, SYDNEY: True}
OCCURRENCES = 8


def _at(local: str, zone: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))


def _table(zone: str, now: str, rows: list[tuple[str, ...]]) -> list[object]:
    params = []
    for name, phrase, first, rule, *description in rows:
        params.append(pytest.param(phrase, now, zone, first, rule, description[0] if description else None,
                                   id=f"{name}-{zone.split('/')[-1].lower()}"))
    return params


WEEKDAYS_RULE = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"

# New York, Wednesday 2026-06-10 10:30.
NY_CASES = _table(NY, "2026-06-10 10:30", [
    ("monthly-on-the-1st-of-every-month", "on the 1st of every month", "2026-07-01 09:00", "FREQ=MONTHLY;BYMONTHDAY=1",
     "every month on the 1st"),
    ("monthly-every-15th", "every 15th", "2026-06-15 09:00", "FREQ=MONTHLY;BYMONTHDAY=15", "every month on the 15th"),
    ("monthly-every-month-on-the-15th", "every month on the 15th", "2026-06-15 09:00", "FREQ=MONTHLY;BYMONTHDAY=15"),
    ("monthly-the-15th-of-each-month", "the 15th of each month", "2026-06-15 09:00", "FREQ=MONTHLY;BYMONTHDAY=15"),
    ("monthly-adverb-on-the-15th", "monthly on the 15th", "2026-06-15 09:00", "FREQ=MONTHLY;BYMONTHDAY=15"),
    ("monthly-every-1st-of-the-month", "every 1st of the month", "2026-07-01 09:00", "FREQ=MONTHLY;BYMONTHDAY=1"),
    ("monthly-every-first-of-the-month", "every first of the month", "2026-07-01 09:00",
     "FREQ=MONTHLY;BYMONTHDAY=1"),
    ("nth-first-tuesday-of-every-month", "first tuesday of every month", "2026-07-07 09:00",
     "FREQ=MONTHLY;BYDAY=1TU", "every month on the first Tue"),
    ("nth-first-tuesday-of-the-month-7pm", "first tuesday of the month at 7pm", "2026-07-07 19:00",
     "FREQ=MONTHLY;BYDAY=1TU"),
    ("nth-last-monday-of-every-month", "last monday of every month", "2026-06-29 09:00", "FREQ=MONTHLY;BYDAY=-1MO",
     "every month on the last Mon"),
    ("nth-every-last-friday", "every last friday", "2026-06-26 09:00", "FREQ=MONTHLY;BYDAY=-1FR"),
    ("nth-every-second-tuesday-of-the-month", "every second tuesday of the month", "2026-07-14 09:00",
     "FREQ=MONTHLY;BYDAY=2TU", "every month on the second Tue"),
    ("nth-third-wednesday-of-every-month", "third wednesday of every month", "2026-06-17 09:00",
     "FREQ=MONTHLY;BYDAY=3WE"),
    ("nth-every-2nd-thursday-6pm", "every 2nd thursday of the month at 6pm", "2026-06-11 18:00",
     "FREQ=MONTHLY;BYDAY=2TH"),
    ("nth-every-other-month-first-monday", "every other month on the first monday", "2026-07-06 09:00",
     "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO", "every other month on the first Mon"),
    ("days-every-monday-wednesday-friday", "every monday wednesday friday", "2026-06-12 09:00",
     "FREQ=WEEKLY;BYDAY=MO,WE,FR", "every Mon, Wed, Fri"),
    ("days-every-mon-wed-and-fri", "every mon, wed and fri", "2026-06-12 09:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ("days-every-mwf-7am", "every mwf at 7am", "2026-06-12 07:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ("days-every-mon-slash-wed-slash-fri", "every mon/wed/fri", "2026-06-12 09:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ("days-every-tuesday-thursday-5pm", "every tuesday thursday at 5pm", "2026-06-11 17:00",
     "FREQ=WEEKLY;BYDAY=TU,TH"),
    ("days-every-tues-and-thurs-6pm", "every tues and thurs at 6pm", "2026-06-11 18:00", "FREQ=WEEKLY;BYDAY=TU,TH"),
    ("days-every-weekday", "every weekday", "2026-06-11 09:00", WEEKDAYS_RULE, "every Mon, Tue, Wed, Thu, Fri"),
    ("days-weekdays-at-8am", "weekdays at 8am", "2026-06-11 08:00", WEEKDAYS_RULE),
    ("days-every-weekday-morning", "every weekday morning", "2026-06-11 09:00", WEEKDAYS_RULE),
    ("days-every-weekend", "every weekend", "2026-06-13 09:00", "FREQ=WEEKLY;BYDAY=SA,SU", "every Sat, Sun"),
    ("days-every-sunday-7pm", "every sunday at 7pm", "2026-06-14 19:00", "FREQ=WEEKLY;BYDAY=SU"),
    ("yearly-every-january-25", "every january 25", "2027-01-25 09:00", "FREQ=YEARLY",
     "every year on Jan 25"),
    ("yearly-every-jan-25th", "every jan 25th", "2027-01-25 09:00", "FREQ=YEARLY"),
    ("yearly-every-year-on-jan-25", "every year on jan 25", "2027-01-25 09:00", "FREQ=YEARLY"),
    ("yearly-every-25th-of-january", "every 25th of january", "2027-01-25 09:00",
     "FREQ=YEARLY"),
    ("yearly-every-christmas", "every christmas", "2026-12-25 09:00", "FREQ=YEARLY",
     "every year on Dec 25"),
    ("other-every-other-day", "every other day", "2026-06-11 09:00", "FREQ=DAILY;INTERVAL=2", "every other day"),
    ("other-every-other-week", "every other week", "2026-06-11 09:00", "FREQ=WEEKLY;INTERVAL=2", "every other Thu"),
    ("other-every-other-tuesday", "every other tuesday", "2026-06-16 09:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
     "every other Tue"),
    ("other-every-second-tuesday-british", "every second tuesday", "2026-06-16 09:00",
     "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"),
    ("other-every-2-weeks-on-monday", "every 2 weeks on monday", "2026-06-15 09:00",
     "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
    ("other-every-2nd-day", "every 2nd day", "2026-06-11 09:00", "FREQ=DAILY;INTERVAL=2"),
    ("other-every-3rd-day", "every 3rd day", "2026-06-11 09:00", "FREQ=DAILY;INTERVAL=3", "every 3 days"),
    ("other-every-two-weeks", "every two weeks", "2026-06-11 09:00", "FREQ=WEEKLY;INTERVAL=2"),
    ("other-fortnightly", "fortnightly", "2026-06-11 09:00", "FREQ=WEEKLY;INTERVAL=2"),
    ("other-every-fortnight", "every fortnight", "2026-06-11 09:00", "FREQ=WEEKLY;INTERVAL=2"),
    ("other-quarterly", "quarterly", "2026-06-11 09:00", "FREQ=MONTHLY;INTERVAL=3", "every 3 months on the 11th"),
    ("adverb-daily", "daily", "2026-06-11 09:00", "FREQ=DAILY", "every day"),
    ("adverb-weekly", "weekly", "2026-06-11 09:00", "FREQ=WEEKLY", "every Thu"),
    ("adverb-monthly", "monthly", "2026-06-11 09:00", "FREQ=MONTHLY", "every month on the 11th"),
    ("adverb-yearly", "yearly", "2026-06-11 09:00", "FREQ=YEARLY", "every year on Jun 11"),
    ("adverb-annually", "annually", "2026-06-11 09:00", "FREQ=YEARLY"),
    ("each-day-8am", "each day at 8am", "2026-06-11 08:00", "FREQ=DAILY"),
    ("part-every-morning", "every morning", "2026-06-11 09:00", "FREQ=DAILY"),
    ("part-every-night-at-10", "every night at 10", "2026-06-10 22:00", "FREQ=DAILY"),
    ("part-every-evening-at-6", "every evening at 6", "2026-06-10 18:00", "FREQ=DAILY"),
    ("bare-every-day-at-5-is-asked", "every day at 5", "2026-06-10 17:00 | 2026-06-11 05:00", "FREQ=DAILY"),
    ("bare-every-monday-at-3-is-asked", "every monday at 3", "2026-06-15 03:00 | 2026-06-15 15:00",
     "FREQ=WEEKLY;BYDAY=MO"),
    ("bare-every-day-at-7", "every day at 7", "2026-06-11 07:00", "FREQ=DAILY"),
    ("bare-every-day-at-12-is-noon", "every day at 12", "2026-06-10 12:00", "FREQ=DAILY"),
    ("midnight-every-day", "every day at midnight", "2026-06-11 00:00", "FREQ=DAILY"),
    ("list-every-1st-and-15th", "every 1st and 15th", "2026-06-15 09:00", "FREQ=MONTHLY;BYMONTHDAY=1,15",
     "every month on the 1st and 15th"),
    ("list-1st-and-15th-of-every-month", "on the 1st and 15th of every month", "2026-06-15 09:00",
     "FREQ=MONTHLY;BYMONTHDAY=1,15"),
    ("month-end-last-day-of-every-month", "on the last day of every month", "2026-06-30 09:00",
     "FREQ=MONTHLY;BYMONTHDAY=-1", "every month on the last day"),
    ("spelling-evry-day", "evry day at 8am", "2026-06-11 08:00", "FREQ=DAILY"),
    ("spelling-every-single-day", "every single day at 9pm", "2026-06-10 21:00", "FREQ=DAILY"),
    ("bounded-until-dec-31", "every day at 8am until dec 31", "2026-06-11 08:00",
     "FREQ=DAILY;UNTIL=20261231T235959", "every day, until Dec 31, 2026"),
    ("refused-every-third-friday", "every third friday", "!unreadable", ""),
    ("refused-twice-a-day", "twice a day", "!unreadable", ""),
    ("refused-3-times-a-day", "3 times a day", "!unreadable", ""),
    ("refused-every-friday-at-midnight", "every friday at midnight", "!ambiguous", ""),
    ("refused-15th-and-30th", "every 15th and 30th", "!impossible", ""),
])

LONDON_CASES = _table(LONDON, "2026-05-12 08:15", [
    ("monthly-every-28th", "every 28th", "2026-05-28 09:00", "FREQ=MONTHLY;BYMONTHDAY=28"),
    ("nth-last-thursday", "last thursday of every month", "2026-05-28 09:00", "FREQ=MONTHLY;BYDAY=-1TH"),
    ("days-mon-wed-and-fri-6-30am", "every monday wednesday and friday at 6:30am", "2026-05-13 06:30",
     "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ("yearly-every-june-21", "every june 21", "2026-06-21 09:00", "FREQ=YEARLY"),
    ("days-weekday-at-8-30", "every weekday at 8:30", "2026-05-12 08:30", WEEKDAYS_RULE),
    ("yearly-every-25th-december", "every 25th december", "2026-12-25 09:00", "FREQ=YEARLY"),
])

PARIS_CASES = _table(PARIS, "2026-03-26 09:00", [
    ("monthly-on-the-5th-of-every-month", "on the 5th of every month", "2026-04-05 09:00", "FREQ=MONTHLY;BYMONTHDAY=5"),
    ("monthly-every-10th-8am", "every 10th at 8am", "2026-04-10 08:00", "FREQ=MONTHLY;BYMONTHDAY=10"),
    ("nth-first-wednesday", "first wednesday of every month", "2026-04-01 09:00", "FREQ=MONTHLY;BYDAY=1WE"),
    ("nth-last-sunday-on-the-change-day", "last sunday of every month at 11am", "2026-03-29T11:00+02:00",
     "FREQ=MONTHLY;BYDAY=-1SU"),
    ("yearly-every-march-8", "every march 8", "2027-03-08 09:00", "FREQ=YEARLY"),
])

SYDNEY_CASES = _table(SYDNEY, "2026-07-22 07:10", [
    ("days-mon-wed-fri-6am", "every mon wed fri at 6am", "2026-07-24 06:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ("nth-first-friday-5pm", "first friday of every month at 5pm", "2026-08-07 17:00", "FREQ=MONTHLY;BYDAY=1FR"),
    ("nth-last-tuesday", "last tuesday of every month", "2026-07-28 09:00", "FREQ=MONTHLY;BYDAY=-1TU"),
    ("monthly-every-15th-9am", "every 15th at 9am", "2026-08-15 09:00", "FREQ=MONTHLY;BYMONTHDAY=15"),
    ("yearly-every-december-25", "every december 25", "2026-12-25 09:00", "FREQ=YEARLY"),
])

LA_CASES = _table(LA, "2026-07-16 13:20", [
    ("other-every-other-friday", "every other friday", "2026-07-17 09:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"),
    ("days-every-weekday-7-30am", "every weekday at 7:30am", "2026-07-17 07:30", WEEKDAYS_RULE),
])

# On the DST change days: a wall time in the gap goes out an hour later, the series keeps asking for it.
DST_CASES = (
    _table(NY, "2026-03-07 12:00", [("gap-every-day-2-30am", "every day at 2:30am", "2026-03-08T03:30-04:00",
                                     "FREQ=DAILY")])
    + _table(LONDON, "2026-10-24 12:00", [("fold-every-day-1-30am", "every day at 1:30am",
                                           "2026-10-25T01:30+01:00", "FREQ=DAILY")])
    + _table(SYDNEY, "2026-10-03 12:00", [("gap-every-day-2-30am", "every day at 2:30am",
                                           "2026-10-04T03:30+11:00", "FREQ=DAILY")])
    + _table(PARIS, "2026-03-28 12:00", [("gap-every-sunday-2-30am", "every sunday at 2:30am",
                                          "2026-03-29T03:30+02:00", "FREQ=WEEKLY;BYDAY=SU")])
    + _table(LA, "2026-03-08 09:30", [("after-spring-weekdays", "every weekday at 7:45am",
                                       "2026-03-09T07:45-07:00", WEEKDAYS_RULE)])
)

CASES = NY_CASES + LONDON_CASES + PARIS_CASES + SYDNEY_CASES + LA_CASES + DST_CASES


def _read(phrase: str, now: datetime, zone: str) -> object:
    return read_schedule(phrase, now, zone, DAY_FIRST[zone])


def _shown(moment: datetime, zone: str, with_offset: bool) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return local.isoformat(timespec="minutes") if with_offset else f"{local:%Y-%m-%d %H:%M}"


def _occurrences(moment: Moment, count: int = OCCURRENCES) -> list[datetime]:
    assert moment.recurrence and moment.anchor
    return [moment.send_at, *upcoming(Series(moment.recurrence, moment.anchor, moment.zone), moment.send_at,
                                       count - 1)]


@pytest.mark.parametrize("phrase, now, zone, first, rule, description", CASES)
def test_repeat_phrase(phrase: str, now: str, zone: str, first: str, rule: str, description: str | None) -> None:
    reading = _read(phrase, _at(now, zone), zone)
    if first.startswith("!"):
        assert not isinstance(reading, Moment), reading
        assert reading.kind == first[1:]
        return
    assert isinstance(reading, Moment), reading
    assert reading.recurrence == rule
    readings = first.split(" | ")
    with_offset = "T" in readings[0]
    assert _shown(reading.send_at, zone, with_offset) == readings[0]
    if len(readings) == 1:
        assert reading.ambiguous_with is None
    else:
        assert reading.ambiguous_with is not None and reading.ambiguous_anchor is not None
        assert _shown(reading.ambiguous_with, zone, with_offset) == readings[1]
        assert reading.ambiguous_anchor.hour == reading.ambiguous_with.astimezone(ZoneInfo(zone)).hour
    if description is not None:
        assert describe_rule(reading.recurrence, reading.anchor) == description


@pytest.mark.parametrize("phrase, now, zone, first, rule, description",
                         [case for case in CASES if not case.values[3].startswith("!")])
def test_the_description_reads_back_as_the_same_series(phrase: str, now: str, zone: str, first: str, rule: str,
                                                       description: str | None) -> None:
    moment = _read(phrase, _at(now, zone), zone)
    assert isinstance(moment, Moment) and moment.recurrence and moment.anchor
    words = describe_rule(moment.recurrence, moment.anchor)
    assert not words.startswith("repeating (")
    # The anchor's time in 24-hour form, as test_series does: a bare hour would be asked about.
    again = _read(f"{words} at {moment.anchor:%H:%M:%S}" if ", until" not in words
                  else f"at {moment.anchor:%H:%M:%S} {words}", _at(now, zone), zone)
    assert isinstance(again, Moment), (words, again)
    assert _occurrences(again) == _occurrences(moment), words


def test_the_table_covers_five_zones_and_enough_phrases() -> None:
    assert {case.values[2] for case in CASES} == {NY, LA, LONDON, PARIS, SYDNEY}
    assert len(CASES) >= 80
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("phrase, recurring", [
    ("first tuesday of the month", True), ("the 15th of every month", True), ("every mwf", True),
    ("fortnightly", True), ("end of the month", False), ("the last day of the month", False),
    ("the 15th of the month", False), ("next week", False), ("in 2 weeks", False),
])
def test_is_recurring(phrase: str, recurring: bool) -> None:
    assert is_recurring(phrase) is recurring


# --- the new shapes, described and read back, over generated phrases --------------------------------

NTH = ["first", "1st", "second", "2nd", "third", "3rd", "fourth", "4th", "last"]
DAYS = ["monday", "tue", "wednesday", "thurs", "friday", "sat", "sunday"]
MONTHS = ["jan", "february", "mar", "april", "may", "jun", "july", "aug", "sept", "oct", "november", "dec"]
ZONES = [NY, LA, LONDON, PARIS, SYDNEY]

shapes = st.one_of(
    st.builds("{} {} of every month".format, st.sampled_from(NTH), st.sampled_from(DAYS)),
    st.builds("every {} on the {} {}".format, st.sampled_from(["month", "other month", "3 months"]),
              st.sampled_from(NTH), st.sampled_from(DAYS)),
    st.builds("every {}".format, st.integers(min_value=1, max_value=31).map(
        lambda day: f"{day}{'th' if 11 <= day <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}")),
    st.builds("every {} and {}".format, st.sampled_from(["1st", "5th", "10th"]),
              st.sampled_from(["15th", "20th", "28th"])),
    st.just("on the last day of every month"),
    st.builds("every {} {}".format, st.sampled_from(MONTHS), st.integers(min_value=1, max_value=28)),
    st.builds("every {} {}".format, st.sampled_from(["mon wed fri", "mwf", "tue/thu", "sat and sun"]), st.just("")),
)
nows = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                    timezones=st.sampled_from([ZoneInfo(zone) for zone in ZONES]))


@settings(max_examples=150, deadline=None)
@given(shape=shapes, at=st.sampled_from(["", " at 7am", " at 18:30", " at noon"]), now=nows)
def test_new_shapes_describe_themselves_truthfully(shape: str, at: str, now: datetime) -> None:
    zone = getattr(now.tzinfo, "key")
    moment = _read(f"{shape.strip()}{at}", now, zone)
    if isinstance(moment, TimeProblem) and moment.kind == "too_far":
        # "every mar 26" on Mar 26 2027 after its time: the first is 366 days away (2028 is a leap
        # year), past the 365-day horizon every reminder keeps to. Only a yearly shape can be that far.
        words = shape.split()
        assert words[0] == "every" and words[1] in MONTHS, (shape, now)
        first = date(now.year + 1, MONTHS.index(words[1]) + 1, int(words[2]))
        assert (first - now.date()).days >= 365, (shape, now)
        return
    assert isinstance(moment, Moment), (shape, moment)
    assert moment.recurrence and moment.anchor and moment.send_at > now
    words = describe_rule(moment.recurrence, moment.anchor)
    assert not words.startswith("repeating (")
    again = _read(f"{words} at {moment.anchor:%H:%M:%S}", now, zone)
    assert isinstance(again, Moment), (words, again)
    assert _occurrences(again) == _occurrences(moment), words
