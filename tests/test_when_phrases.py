"""How people write WHEN, read by bot.language.when: a table per zone, each row with a fixed ``now``.

Expectations are worked out by hand from a calendar, never copied from the reader's output:
"2026-12-02 05:00" is the local wall time of send_at, "A | B" a reading asked about (send_at,
then Moment.ambiguous_with), "...T03:30-04:00" pins the UTC offset on DST days, "@Europe/London"
the zone a city named, and "!past" the TimeProblem kind.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.ids import ALPHABET, ID_LENGTH
from bot.language.commands import Snooze
from bot.language.parser import parse
from bot.language.repeats import read_schedule
from bot.language.spelling import respell
from bot.language.when import (MAX_PHRASE_LENGTH, Duration, Moment, TimeProblem, named_parts, normalize_phrase,
                               parse_duration, read_fallback)

NY, LA, LONDON, PARIS, SYDNEY = "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Paris", \
    "Australia/Sydney"
# Day-first dates and the holidays of the country each zone's numbers come from.
SENDER_WAYS = {NY: (False, "US"), LA: (False, "US"), LONDON: (True, "GB"), PARIS: (True, "FR"),
               SYDNEY: (True, "AU")}


def _at(local: str, zone: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))


def _shown(moment: datetime, zone: str, with_offset: bool) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return local.isoformat(timespec="minutes") if with_offset else f"{local:%Y-%m-%d %H:%M}"


def _table(zone: str, now: str, rows: list[tuple[str, str, str]]) -> list[object]:
    return [pytest.param(phrase, now, zone, expected, id=f"{name}-{zone.split('/')[-1].lower()}")
            for name, phrase, expected in rows]


# --- New York, Tuesday 2026-12-01 20:49: an evening, when a bare hour is nearest at night ----------
NY_EVENING = _table(NY, "2026-12-01 20:49", [
    ("bare-at-5-is-asked", "at 5", "2026-12-02 05:00 | 2026-12-02 17:00"),
    ("bare-tomorrow-at-5-is-asked", "tomorrow at 5", "2026-12-02 05:00 | 2026-12-02 17:00"),
    ("bare-at-7-is-morning", "at 7", "2026-12-02 07:00"),
    ("bare-at-10-is-tonight", "at 10", "2026-12-01 22:00"),
    ("bare-at-12-midnight-or-noon", "at 12", "2026-12-02 00:00 | 2026-12-02 12:00"),
    ("bare-at-two-spelled", "at two", "2026-12-02 02:00 | 2026-12-02 14:00"),
    ("bare-lone-5", "5", "2026-12-02 05:00 | 2026-12-02 17:00"),
    ("bare-at-5-30", "at 5:30", "2026-12-02 05:30 | 2026-12-02 17:30"),
    ("part-5-in-the-evening", "5 in the evening", "2026-12-02 17:00"),
    ("part-7-tomorrow-morning", "7 tomorrow morning", "2026-12-02 07:00"),
    ("part-5-in-the-morning-is-meant", "at 5 in the morning", "2026-12-02 05:00"),
    ("part-11-tonight", "at 11 tonight", "2026-12-01 23:00"),
    ("part-tonight-at-1-after-midnight", "tonight at 1", "2026-12-02 01:00"),
    ("part-tonight-at-12", "tonight at 12", "2026-12-02 00:00"),
    ("day-tomorrow-at-12-is-noon", "tomorrow at 12", "2026-12-02 12:00"),
    ("day-tomorrow-at-7", "tomorrow at 7", "2026-12-02 07:00"),
    ("day-tomorrow-at-seven", "tomorrow at seven", "2026-12-02 07:00"),
    ("day-tomorrow-at-6-45", "tomorrow at 6:45", "2026-12-02 06:45 | 2026-12-02 18:45"),
    ("day-friday-at-3", "friday at 3", "2026-12-04 03:00 | 2026-12-04 15:00"),
    ("midnight-on-a-named-day", "friday at midnight", "2026-12-04 00:00 | 2026-12-05 00:00"),
    ("midnight-alone", "midnight", "2026-12-02 00:00"),
    ("midnight-tonight", "tonight at midnight", "2026-12-02 00:00"),
    ("next-friday-on-a-tuesday-at-3", "next friday at 3", "2026-12-04 03:00 | 2026-12-04 15:00"),
    ("four-digit-at-0930-tomorrow", "at 0930 tomorrow", "2026-12-02 09:30"),
    ("four-digit-0930", "0930", "2026-12-02 09:30"),
    ("four-digit-2130", "2130", "2026-12-01 21:30"),
    ("four-digit-1620", "1620", "2026-12-02 16:20"),
    ("four-digit-at-2359", "at 2359", "2026-12-01 23:59"),
    ("four-digit-2460-impossible", "2460", "!impossible"),
    ("elapsed-in-1h30", "in 1h30", "2026-12-01 22:19"),
    ("elapsed-in-1h-30m", "in 1h 30m", "2026-12-01 22:19"),
    ("elapsed-in-1.5-hours", "in 1.5 hours", "2026-12-01 22:19"),
    ("elapsed-in-90-mins", "in 90 mins", "2026-12-01 22:19"),
    ("elapsed-in-2h15", "in 2h15", "2026-12-01 23:04"),
    ("elapsed-in-1-hr-15-min", "in 1 hr 15 min", "2026-12-01 22:04"),
    ("elapsed-an-hour-from-now", "an hour from now", "2026-12-01 21:49"),
    ("elapsed-30-mins-from-now", "30 mins from now", "2026-12-01 21:19"),
    ("spelled-in-five-minutes", "in five minutes", "2026-12-01 20:54"),
    ("spelled-in-twenty-five-minutes", "in twenty five minutes", "2026-12-01 21:14"),
    ("spelled-in-twenty-five-hyphen", "in twenty-five minutes", "2026-12-01 21:14"),
    ("spelled-in-a-half-hour", "in a half hour", "2026-12-01 21:19"),
    ("spelled-in-half-an-hour", "in half an hour", "2026-12-01 21:19"),
    ("spelled-quarter-of-an-hour", "in a quarter of an hour", "2026-12-01 21:04"),
    ("spelled-hour-and-a-half", "in an hour and a half", "2026-12-01 22:19"),
    ("spelled-couple-of-hours", "in a couple of hours", "2026-12-01 22:49"),
    ("spelled-couple-hours", "in a couple hours", "2026-12-01 22:49"),
    ("vague-a-few-minutes", "in a few minutes", "!unreadable"),
    ("vague-several-days", "in several days", "!unreadable"),
    ("spelled-two-and-a-half-hours", "in two and a half hours", "2026-12-01 23:19"),
    ("elapsed-in-3-days", "in 3 days", "2026-12-04 20:49"),
    ("elapsed-fortnight", "in a fortnight", "2026-12-15 20:49"),
    ("elapsed-2-weeks", "in 2 weeks", "2026-12-15 20:49"),
    ("elapsed-2-months", "in 2 months", "2027-02-01 20:49"),
    ("elapsed-a-month", "in a month", "2027-01-01 20:49"),
    ("elapsed-13-months-too-far", "in 13 months", "!too_far"),
    ("spelling-tmrw", "tmrw 9am", "2026-12-02 09:00"),
    ("spelling-tmr", "tmr at 8", "2026-12-02 08:00"),
    ("spelling-2moro", "2moro at noon", "2026-12-02 12:00"),
    ("spelling-tomorow", "tomorow 10am", "2026-12-02 10:00"),
    ("spelling-tommorow", "tommorow 10am", "2026-12-02 10:00"),
    ("spelling-tomorrw", "tomorrw 8am", "2026-12-02 08:00"),
    ("spelling-tonite", "tonite at 9", "2026-12-01 21:00"),
    ("spelling-2nite", "2nite at 10pm", "2026-12-01 22:00"),
    ("spelling-2day", "2day at 11pm", "2026-12-01 23:00"),
    ("spelling-thurs", "thurs 3pm", "2026-12-03 15:00"),
    ("spelling-thur", "thur at 3pm", "2026-12-03 15:00"),
    ("spelling-tues-is-next-week", "tues 9am", "2026-12-08 09:00"),
    ("spelling-weds", "weds 6pm", "2026-12-02 18:00"),
    ("spelling-mins", "in 15 mins", "2026-12-01 21:04"),
    ("spelling-hrs", "in 2 hrs", "2026-12-01 22:49"),
    ("spelling-nxt-wk", "nxt wk", "2026-12-07 09:00"),
    ("weeks-next-week-is-monday", "next week", "2026-12-07 09:00"),
    ("weeks-next-week-at-5pm", "next week at 5pm", "2026-12-07 17:00"),
    ("weeks-friday-after-next", "friday after next", "2026-12-11 09:00"),
    ("weeks-wednesday-of-next-week", "wednesday of next week", "2026-12-09 09:00"),
    ("weeks-next-week-wednesday", "next week wednesday", "2026-12-09 09:00"),
    ("weeks-next-friday-on-a-tuesday", "next friday", "2026-12-04 09:00"),
    ("weeks-this-weekend", "this weekend", "2026-12-05 09:00"),
    ("weeks-next-weekend-on-a-weekday", "next weekend", "2026-12-05 09:00 | 2026-12-12 09:00"),
    ("weeks-end-of-the-month", "end of the month", "2026-12-31 09:00"),
    ("weeks-last-day-of-the-month", "the last day of the month", "2026-12-31 09:00"),
    ("weeks-a-week-from-friday", "a week from friday", "2026-12-11 09:00"),
    ("weeks-a-week-tomorrow", "a week tomorrow", "2026-12-09 09:00"),
    ("weeks-2-weeks-from-tomorrow", "2 weeks from tomorrow", "2026-12-16 09:00"),
    ("holiday-christmas", "christmas", "2026-12-25 09:00"),
    ("holiday-christmas-eve-6pm", "christmas eve at 6pm", "2026-12-24 18:00"),
    ("holiday-xmas-morning", "xmas morning", "2026-12-25 09:00"),
    ("holiday-new-years-eve", "new year's eve at 11:55pm", "2026-12-31 23:55"),
    ("holiday-new-years-day-noon", "new years day at noon", "2027-01-01 12:00"),
    ("holiday-valentines", "valentine's day", "2027-02-14 09:00"),
    ("holiday-halloween-next-year", "halloween", "2027-10-31 09:00"),
    ("holiday-july-4th", "july 4th", "2027-07-04 09:00"),
    ("holiday-4th-of-july-8pm", "4th of july at 8pm", "2027-07-04 20:00"),
    ("holiday-independence-day", "independence day", "2027-07-04 09:00"),
    ("holiday-thanksgiving-4th-thursday", "thanksgiving", "2027-11-25 09:00"),
    ("holiday-memorial-day", "memorial day", "2027-05-31 09:00"),
    ("holiday-labor-day", "labor day", "2027-09-06 09:00"),
    ("holiday-mothers-day-us", "mother's day", "2027-05-09 09:00"),
    ("holiday-easter", "easter", "2027-03-28 09:00"),
    ("holiday-good-friday", "good friday", "2027-03-26 09:00"),
    ("holiday-st-patricks", "st patrick's day", "2027-03-17 09:00"),
    ("holiday-boxing-day", "boxing day", "2026-12-26 09:00"),
    ("city-london-time", "9am london time", "2026-12-02 09:00 @Europe/London"),
    ("city-new-york-time", "3pm new york time", "2026-12-02 15:00 @America/New_York"),
    ("city-sydney-time", "5pm sydney time", "2026-12-02 17:00 @Australia/Sydney"),
    ("city-paris-without-time", "10am paris", "2026-12-02 10:00 @Europe/Paris"),
    ("city-la-time", "at 4pm LA time", "2026-12-02 16:00 @America/Los_Angeles"),
    ("zone-pt", "9am PT", "2026-12-02 09:00 @America/Los_Angeles"),
    ("city-tokyo-noon", "noon tokyo time", "2026-12-02 12:00 @Asia/Tokyo"),
    ("regional-this-arvo-is-past", "this arvo", "!past"),
    ("regional-tomorrow-arvo", "tomorrow arvo", "2026-12-02 15:00"),
    ("regional-first-thing-tomorrow", "first thing tomorrow", "2026-12-02 09:00"),
    ("regional-lunchtime-tomorrow", "lunchtime tomorrow", "2026-12-02 12:00"),
    ("regional-at-lunch", "at lunch", "2026-12-02 12:00"),
    ("regional-by-eod", "by eod", "2026-12-02 17:00"),
    ("regional-end-of-day-friday", "end of day friday", "2026-12-04 17:00"),
    ("regional-after-work-unreadable", "after work", "!unreadable"),
    ("idiom-half-past-3", "half past 3", "2026-12-02 03:30 | 2026-12-02 15:30"),
    ("idiom-quarter-to-5-tomorrow", "quarter to 5 tomorrow", "2026-12-02 04:45 | 2026-12-02 16:45"),
    ("idiom-ten-past-two-pm", "ten past two pm", "2026-12-02 14:10"),
    ("idiom-twenty-to-six-tomorrow", "twenty to six tomorrow", "2026-12-02 05:40 | 2026-12-02 17:40"),
    ("idiom-half-9-tonight", "half 9 tonight", "2026-12-01 21:30"),
    ("idiom-5-oclock", "5 o'clock", "2026-12-02 05:00 | 2026-12-02 17:00"),
    ("idiom-5ish-tomorrow", "5ish tomorrow", "2026-12-02 05:00 | 2026-12-02 17:00"),
    ("spelled-nine-thirty", "nine thirty", "2026-12-01 21:30"),
    ("spelled-ten-thirty-am", "ten thirty am", "2026-12-02 10:30"),
    ("spelled-seven-fifteen-pm-tomorrow", "seven fifteen pm tomorrow", "2026-12-02 19:15"),
    ("spelled-eleven-forty-five", "at eleven forty five", "2026-12-01 23:45"),
    ("named-noon", "noon", "2026-12-02 12:00"),
    ("named-midday", "midday", "2026-12-02 12:00"),
    ("date-march-first", "march first", "2027-03-01 09:00"),
    ("date-march-1st-10am", "march 1st at 10am", "2027-03-01 10:00"),
    ("date-the-3rd-of-december", "the 3rd of december", "2026-12-03 09:00"),
    ("date-3rd-december-5pm", "3rd december at 5pm", "2026-12-03 17:00"),
    ("date-december-the-3rd", "december the 3rd", "2026-12-03 09:00"),
    ("date-on-the-15th", "on the 15th", "2026-12-15 09:00"),
    ("date-on-the-fifteenth", "on the fifteenth", "2026-12-15 09:00"),
    ("date-the-twenty-second", "the twenty-second", "2026-12-22 09:00"),
    ("date-11-29-month-first", "11/29", "2027-11-29 09:00"),
    ("date-29-11-impossible-month-first", "29/11", "!impossible"),
    ("date-12-25-at-6pm", "12/25 at 6pm", "2026-12-25 18:00"),
    ("dotted-9.30-time-or-date", "9.30", "2026-12-01 21:30 | 2027-09-30 09:00"),
    ("dotted-at-9.30-is-a-time", "at 9.30", "2026-12-01 21:30"),
    ("dotted-9.30pm", "9.30pm", "2026-12-01 21:30"),
    ("french-17h30", "17h30", "2026-12-02 17:30"),
    ("vague-twice-a-day", "twice a day", "!unreadable"),
    ("conflict-elapsed-and-clock", "in 2 hours at 5pm", "!conflict"),
    ("nonsense", "blorp", "!unreadable"),
])

NY_THURSDAY = _table(NY, "2026-12-03 10:00", [
    ("next-friday-said-the-day-before", "next friday", "2026-12-04 09:00 | 2026-12-11 09:00"),
    ("next-friday-5pm-said-the-day-before", "next friday at 5pm", "2026-12-04 17:00 | 2026-12-11 17:00"),
    ("next-friday-at-3-two-doubts", "next friday at 3", "!ambiguous"),
    ("this-friday", "this friday", "2026-12-04 09:00"),
    ("friday", "friday", "2026-12-04 09:00"),
    ("at-5-in-the-morning-hours", "at 5", "2026-12-03 17:00"),
    ("at-10-at-10", "at 10", "2026-12-03 22:00"),
    ("at-11", "at 11", "2026-12-03 11:00"),
    ("at-12-noon", "at 12", "2026-12-03 12:00"),
    ("at-two-is-this-afternoon", "at two", "2026-12-03 14:00"),
    ("this-arvo", "this arvo", "2026-12-03 15:00"),
    ("this-weekend", "this weekend", "2026-12-05 09:00"),
    ("next-weekend-on-thursday", "next weekend", "2026-12-05 09:00 | 2026-12-12 09:00"),
    ("month-days-list-is-a-repeat", "the 1st and 15th", "!unreadable"),
])

NY_SUNDAY = _table(NY, "2026-12-06 10:00", [
    ("next-week-on-a-sunday", "next week", "2026-12-07 09:00 | 2026-12-14 09:00"),
    ("wednesday-of-next-week-on-a-sunday", "wednesday of next week", "2026-12-09 09:00 | 2026-12-16 09:00"),
    ("next-weekend-on-a-sunday", "next weekend", "2026-12-12 09:00"),
    ("this-weekend-at-5pm-on-sunday", "this weekend at 5pm", "2026-12-06 17:00"),
    ("next-monday-is-tomorrow", "next monday", "2026-12-07 09:00 | 2026-12-14 09:00"),
    ("monday-after-next", "monday after next", "2026-12-14 09:00"),
])

# New York: spring forward on Sunday 2026-03-08 (02:00 -> 03:00), fall back on 2026-11-01 (02:00 -> 01:00).
NY_DST = _table(NY, "2026-03-07 22:00", [
    ("spring-bare-2-30-in-the-gap", "at 2:30", "2026-03-08T03:30-04:00 | 2026-03-08T14:30-04:00"),
    ("spring-in-5-hours-real-time", "in 5 hours", "2026-03-08T04:00-04:00"),
    ("spring-tomorrow-9am", "tomorrow at 9am", "2026-03-08T09:00-04:00"),
    ("spring-in-1-day-keeps-the-clock", "in 1 day", "2026-03-08T22:00-04:00"),
    ("spring-at-3am", "at 3am", "2026-03-08T03:00-04:00"),
    ("spring-in-24-hours", "in 24 hours", "2026-03-08T23:00-04:00"),
]) + _table(NY, "2026-10-31 23:00", [
    ("fall-1-30am-first-of-two", "at 1:30am", "2026-11-01T01:30-04:00"),
    ("fall-in-3-hours", "in 3 hours", "2026-11-01T01:00-05:00"),
    ("fall-tomorrow-9am", "tomorrow at 9am", "2026-11-01T09:00-05:00"),
    ("fall-bare-1-30", "at 1:30", "2026-11-01T01:30-04:00 | 2026-11-01T13:30-05:00"),
])

LA_AFTERNOON = _table(LA, "2026-07-16 13:20", [
    ("at-2", "at 2", "2026-07-16 14:00"),
    ("at-1-nearest-at-night", "at 1", "2026-07-17 01:00 | 2026-07-17 13:00"),
    ("friday-after-next", "friday after next", "2026-07-24 09:00"),
    ("monday-of-next-week-9am", "monday of next week at 9am", "2026-07-20 09:00"),
    ("labor-day", "labor day", "2026-09-07 09:00"),
    ("memorial-day", "memorial day", "2027-05-31 09:00"),
    ("mothers-day", "mother's day", "2027-05-09 09:00"),
    ("thanksgiving-3pm", "thanksgiving at 3pm", "2026-11-26 15:00"),
    ("halloween-5pm", "halloween at 5pm", "2026-10-31 17:00"),
    ("city-new-york-6pm", "at 6pm new york time", "2026-07-16 18:00 @America/New_York"),
    ("city-nyc-9pm", "9pm nyc time", "2026-07-16 21:00 @America/New_York"),
    ("city-tokyo-10am", "at 10am tokyo time", "2026-07-17 10:00 @Asia/Tokyo"),
    ("in-1h45", "in 1h45", "2026-07-16 15:05"),
    ("30-mins-from-now", "30 mins from now", "2026-07-16 13:50"),
    ("tomorrow-arvo-at-4", "tomorrow arvo at 4", "2026-07-17 16:00"),
    ("saturday-arvo", "saturday arvo", "2026-07-18 15:00"),
    ("nine-fifteen", "at nine fifteen", "2026-07-16 21:15"),
    ("twelve-thirty-at-night", "at twelve thirty", "2026-07-17 00:30 | 2026-07-17 12:30"),
    ("half-past-4", "half past 4", "2026-07-16 16:30"),
    ("twenty-past-6", "twenty past 6", "2026-07-16 18:20"),
    ("ten-to-nine", "ten to nine", "2026-07-16 20:50"),
    ("date-7-30-at-3pm", "7/30 at 3pm", "2026-07-30 15:00"),
    ("date-sept-30-at-4", "sept 30 at 4", "2026-09-30 04:00 | 2026-09-30 16:00"),
    ("four-digit-1130", "1130", "2026-07-17 11:30"),
    ("in-a-week", "in a week", "2026-07-23 13:20"),
])

LA_DST = _table(LA, "2026-03-07 22:00", [
    ("spring-2-30am-in-the-gap", "at 2:30am", "2026-03-08T03:30-07:00"),
    ("spring-in-4-hours", "in 4 hours", "2026-03-08T03:00-07:00"),
]) + _table(LA, "2026-10-31 23:10", [
    ("fall-in-4-hours", "in 4 hours", "2026-11-01T02:10-08:00"),
    ("fall-bare-3", "at 3", "2026-11-01T03:00-08:00 | 2026-11-01T15:00-08:00"),
])

LONDON_MORNING = _table(LONDON, "2026-05-12 08:15", [
    ("half-3", "half 3", "2026-05-12 15:30"),
    ("half-7-tomorrow", "half 7 tomorrow", "2026-05-13 07:30"),
    ("half-six", "half six", "2026-05-12 18:30"),
    ("quarter-to-6", "quarter to 6", "2026-05-12 17:45"),
    ("ten-past-4", "at ten past 4", "2026-05-12 16:10"),
    ("dotted-29.05-10am", "29.05 10am", "2026-05-29 10:00"),
    ("dotted-29.05-is-a-date", "29.05", "2026-05-29 09:00"),
    ("slash-3-6-day-first", "on 3/6 at 2pm", "2026-06-03 14:00"),
    ("slash-5-2-day-first", "5/2", "2027-02-05 09:00"),
    ("dotted-9.05-time-or-date", "9.05", "2026-05-12 09:05 | 2027-05-09 09:00"),
    ("dotted-at-9.05-time", "at 9.05", "2026-05-12 09:05"),
    ("dotted-3.12-with-a-clock-is-a-date", "3.12 at 5pm", "2026-12-03 17:00"),
    ("the-1st-of-june", "the 1st of june", "2026-06-01 09:00"),
    ("june-second-5pm", "june second 5pm", "2026-06-02 17:00"),
    ("mothers-day-is-mothering-sunday", "mother's day", "2027-03-07 09:00"),
    ("mothering-sunday", "mothering sunday", "2027-03-07 09:00"),
    ("thanksgiving-the-us-one", "thanksgiving", "2026-11-26 09:00"),
    ("boxing-day", "boxing day", "2026-12-26 09:00"),
    ("bonfire-night", "bonfire night", "2026-11-05 09:00"),
    ("this-arvo", "this arvo", "2026-05-12 15:00"),
    ("tomoz", "tomoz at 10am", "2026-05-13 10:00"),
    ("monday-week", "monday week", "2026-05-25 09:00"),
    ("a-week-on-friday", "a week on friday", "2026-05-22 09:00"),
    ("fortnight", "in a fortnight", "2026-05-26 08:15"),
    ("four-digit-1400", "1400", "2026-05-12 14:00"),
    ("four-digit-at-0930", "at 0930", "2026-05-12 09:30"),
    ("city-new-york", "9am new york time", "2026-05-12 09:00 @America/New_York"),
    ("city-paris", "at 2pm paris time", "2026-05-12 14:00 @Europe/Paris"),
    ("labour-day-not-fixed-here", "labour day", "!unreadable"),
    ("independence-day-not-fixed-here", "independence day", "!unreadable"),
    ("fathers-day", "father's day", "2026-06-21 09:00"),
])

# London: fall back on Sunday 2026-10-25 (02:00 BST -> 01:00 GMT), spring forward on 2026-03-29 (01:00 -> 02:00).
LONDON_DST = _table(LONDON, "2026-10-24 21:40", [
    ("fall-1-30am-first-of-two", "at 1:30am", "2026-10-25T01:30+01:00"),
    ("fall-in-5-hours", "in 5 hours", "2026-10-25T01:40+00:00"),
    ("fall-tomorrow-9am", "tomorrow at 9am", "2026-10-25T09:00+00:00"),
    ("fall-bare-6", "at 6", "2026-10-25T06:00+00:00 | 2026-10-25T18:00+00:00"),
    ("fall-quarter-to-11-tonight", "quarter to 11 tonight", "2026-10-24T22:45+01:00"),
]) + _table(LONDON, "2026-03-28 22:00", [
    ("spring-1-30am-in-the-gap", "at 1:30am", "2026-03-29T02:30+01:00"),
    ("spring-in-4-hours", "in 4 hours", "2026-03-29T03:00+01:00"),
])

PARIS_MORNING = _table(PARIS, "2026-03-26 09:00", [
    ("bastille-day-10pm", "bastille day at 10pm", "2026-07-14 22:00"),
    ("dotted-14.07-with-a-clock", "14.07 at 10pm", "2026-07-14 22:00"),
    ("dotted-on-4.7", "on 4.7 at 8pm", "2026-07-04 20:00"),
    ("slash-15-08-noon", "15/08 at noon", "2026-08-15 12:00"),
    ("french-at-17h30", "at 17h30", "2026-03-26 17:30"),
    ("french-17h", "17h", "2026-03-26 17:00"),
    ("bare-1h30-is-not-a-time", "1h30", "!unreadable"),
    ("easter", "easter", "2026-04-05 09:00"),
    ("good-friday", "good friday", "2026-04-03 09:00"),
    ("easter-monday", "easter monday", "2026-04-06 09:00"),
    ("mothers-day-not-fixed-here", "mother's day", "!unreadable"),
    ("fathers-day", "father's day", "2026-06-21 09:00"),
    ("city-london", "at 3pm london time", "2026-03-26 15:00 @Europe/London"),
    ("friday-after-next", "friday after next", "2026-04-03 09:00"),
    ("monday-of-next-week-8am", "monday of next week at 8am", "2026-03-30 08:00"),
    ("a-week-from-thursday", "a week from thursday", "2026-04-09 09:00"),
    ("fortnight-across-the-change", "in a fortnight", "2026-04-09T09:00+02:00"),
])

# Paris: spring forward on Sunday 2026-03-29 (02:00 -> 03:00), fall back on 2026-10-25 (03:00 -> 02:00).
PARIS_DST = _table(PARIS, "2026-03-28 22:30", [
    ("spring-2-30am-in-the-gap", "at 2:30am", "2026-03-29T03:30+02:00"),
    ("spring-in-6-hours", "in 6 hours", "2026-03-29T05:30+02:00"),
    ("spring-tomorrow-at-9", "tomorrow at 9", "2026-03-29T09:00+02:00"),
]) + _table(PARIS, "2026-10-24 23:00", [
    ("fall-2-30am-first-of-two", "at 2:30am", "2026-10-25T02:30+02:00"),
    ("fall-in-4-hours", "in 4 hours", "2026-10-25T02:00+01:00"),
])

SYDNEY_MORNING = _table(SYDNEY, "2026-07-22 07:10", [
    ("this-arvo", "this arvo", "2026-07-22 15:00"),
    ("sat-arvo", "sat arvo", "2026-07-25 15:00"),
    ("tuesday-week", "tuesday week", "2026-08-04 09:00"),
    ("half-5", "half 5", "2026-07-22 17:30"),
    ("at-6-past-so-evening", "at 6", "2026-07-22 18:00"),
    ("at-7-just-past", "at 7", "2026-07-22 19:00"),
    ("mothers-day", "mother's day", "2027-05-09 09:00"),
    ("fathers-day-september", "father's day", "2026-09-06 09:00"),
    ("australia-day", "australia day", "2027-01-26 09:00"),
    ("anzac-day-5am", "anzac day at 5am", "2027-04-25 05:00"),
    ("christmas", "christmas", "2026-12-25 09:00"),
    ("city-london", "at 5pm london time", "2026-07-22 17:00 @Europe/London"),
    ("city-perth", "at 3pm perth time", "2026-07-22 15:00 @Australia/Perth"),
    ("four-digit-0830", "0830", "2026-07-22 08:30"),
    ("dotted-24.12-5pm", "24.12 at 5pm", "2026-12-24 17:00"),
    ("dotted-on-30.9", "on 30.9 at 9am", "2026-09-30 09:00"),
    ("slash-26-1", "26/1 at 6pm", "2027-01-26 18:00"),
])

# Sydney: clocks go forward on Sunday 2026-10-04 (02:00 -> 03:00) and back on 2026-04-05 (03:00 -> 02:00).
SYDNEY_DST = _table(SYDNEY, "2026-10-03 22:00", [
    ("spring-2-30am-in-the-gap", "at 2:30am", "2026-10-04T03:30+11:00"),
    ("spring-in-5-hours", "in 5 hours", "2026-10-04T04:00+11:00"),
    ("spring-tomorrow-8am", "tomorrow at 8am", "2026-10-04T08:00+11:00"),
]) + _table(SYDNEY, "2026-04-04 20:00", [
    ("fall-2-30am-first-of-two", "at 2:30am", "2026-04-05T02:30+11:00"),
    ("fall-in-8-hours", "in 8 hours", "2026-04-05T03:00+10:00"),
    ("fall-bare-4", "at 4", "2026-04-05T04:00+10:00 | 2026-04-05T16:00+10:00"),
])

CASES = (NY_EVENING + NY_THURSDAY + NY_SUNDAY + NY_DST + LA_AFTERNOON + LA_DST + LONDON_MORNING + LONDON_DST
         + PARIS_MORNING + PARIS_DST + SYDNEY_MORNING + SYDNEY_DST)


def _read(phrase: str, now: str, zone: str) -> object:
    day_first, region = SENDER_WAYS[zone]
    return read_schedule(phrase, _at(now, zone), zone, day_first, region=region)


@pytest.mark.parametrize("phrase, now, zone, expected", CASES)
def test_when_phrase(phrase: str, now: str, zone: str, expected: str) -> None:
    reading = _read(phrase, now, zone)
    if expected.startswith("!"):
        assert not isinstance(reading, Moment), reading
        assert reading.kind == expected[1:], reading
        return
    assert isinstance(reading, Moment), reading
    assert reading.recurrence is None
    wanted_zone = expected.split(" @")[1] if " @" in expected else zone
    assert reading.zone == wanted_zone
    readings = expected.split(" @")[0].split(" | ")
    with_offset = "T" in readings[0]
    assert _shown(reading.send_at, wanted_zone, with_offset) == readings[0]
    if len(readings) == 1:
        assert reading.ambiguous_with is None, reading
    else:
        assert reading.ambiguous_with is not None, reading
        assert _shown(reading.ambiguous_with, wanted_zone, with_offset) == readings[1]
    assert reading.send_at > _at(now, zone) and reading.send_at.microsecond == 0


def test_the_table_covers_five_zones_and_enough_phrases() -> None:
    zones = {param.values[2] for param in CASES}
    assert zones == {NY, LA, LONDON, PARIS, SYDNEY}
    assert len(CASES) >= 200
    assert len({param.id for param in CASES}) == len(CASES)


@pytest.mark.parametrize("zone", [NY, LONDON, SYDNEY])
def test_a_bare_hour_is_the_nearest_and_asked_about_only_at_night(zone: str) -> None:
    for now_hour in range(24):
        now = _at(f"2026-06-10 {now_hour:02d}:20", zone)
        for hour in range(1, 13):
            reading = read_schedule(f"at {hour}", now, zone, True)
            assert isinstance(reading, Moment), reading
            # The two readings of the hour today and tomorrow; the first one ahead of now is meant.
            walls = sorted(now.replace(hour=half, minute=0) + day for day in (timedelta(0), timedelta(days=1))
                           for half in (hour % 12, hour % 12 + 12))
            nearest = next(wall for wall in walls if wall > now)
            assert reading.send_at == nearest, (now, hour)
            if nearest.hour < 7:  # at night: the same hour in the evening is asked about
                assert reading.ambiguous_with == nearest + timedelta(hours=12), (now, hour)
            else:
                assert reading.ambiguous_with is None, (now, hour)


@pytest.mark.parametrize("phrase, region, expected", [
    ("thanksgiving", "CA", "2026-10-12 09:00"),  # Canada: the 2nd Monday of October
    ("thanksgiving", "US", "2026-11-26 09:00"),
    ("mother's day", "CA", "2027-05-09 09:00"),
    ("mother's day", "IE", "2027-03-07 09:00"),  # Mothering Sunday, three weeks before Easter
    ("mother's day", None, "!unreadable"),  # a number whose country we do not know
    ("easter", "GR", "2027-05-02 09:00"),  # the Orthodox Easter
    ("labor day", "AU", "!unreadable"),  # Labour Day differs by Australian state
    ("memorial day", None, "2027-05-31 09:00"),
], ids=lambda value: str(value).replace(" ", "_").replace("'", ""))
def test_holidays_whose_date_depends_on_the_country(phrase: str, region: str | None, expected: str) -> None:
    reading = read_schedule(phrase, _at("2026-07-16 13:20", NY), NY, False, region=region)
    if expected.startswith("!"):
        assert not isinstance(reading, Moment) and reading.kind == expected[1:], reading
    else:
        assert isinstance(reading, Moment) and _shown(reading.send_at, NY, False) == expected


@pytest.mark.parametrize("text, duration", [
    ("1h30", Duration(seconds=5400)),
    ("2h15", Duration(seconds=8100)),
    ("five minutes", Duration(seconds=300)),
    ("a couple of hours", Duration(seconds=7200)),
    ("half an hour", Duration(seconds=1800)),
    ("a quarter of an hour", Duration(seconds=900)),
    ("an hour and a half", Duration(seconds=5400)),
    ("2 weeks", Duration(days=14)),
    ("a fortnight", Duration(days=14)),
    ("3 months", Duration(months=3)),
    ("a year", Duration(months=12)),
    ("twenty five minutes", Duration(seconds=1500)),
    ("a few minutes", None),
    ("half a month", None),
    ("7s6w9w", None),  # a unit twice: a reminder's id, not 7 seconds and 15 weeks
    ("2 hours 3 hours", None),
    ("2 days 3 hours 5 minutes", Duration(days=2, seconds=3 * 3600 + 300)),
    ("1 week 2 days", Duration(days=9)),
    ("11939m 2h", None),  # minutes before hours: a reminder's id and a time ("snooze 11939m 2h"), not 8 days
    ("30 minutes 2 hours", None),
], ids=lambda value: str(value).replace(" ", "_"))
def test_parse_duration(text: str, duration: Duration | None) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize("phrase", ["at two", "in 1h30", "at 0930 tomorrow", "next month", "in a few minutes",
                                    "tomorrow at seven", "half past 3", "9.30", "in a couple of days",
                                    "96d9nd", "5z65m1", "9d5on9", "96d9nd 2h"])
def test_dateparser_is_not_asked_about_phrases_it_guesses(phrase: str) -> None:
    # dateparser 1.5 read "at two" as a date months away and "in 1h30" as 1:30 AM tomorrow, and
    # reminder ids with letters between digits as dates ("96d9nd": Mar 6, so "snooze 96d9nd 2h" lost its id).
    assert read_fallback(phrase, _at("2026-12-01 20:49", NY), NY, False) is None


# Ids that are a number and a small unit ("11939m", "10000s"): each also reads as a duration, but a
# span is written from its largest unit down, so with a time in hours after it the id is an id.
_DURATION_SHAPED_IDS = ["11939m", "54321m", "10000s", "99999s", "123min", "123sec", "4567mn"]


@pytest.mark.parametrize("reminder_id", _DURATION_SHAPED_IDS)
def test_an_id_shaped_like_a_duration_keeps_its_id_when_a_time_follows(reminder_id: str) -> None:
    now = _at("2026-12-01 20:49", NY)
    command = parse(f"snooze {reminder_id} 2h", now, NY, "+12125550147")
    assert isinstance(command, Snooze) and command.id == reminder_id, command
    assert command.send_at == now + timedelta(hours=2)


@pytest.mark.parametrize("text, reminder_id", [("snooze #12days 2h", "12days"), ("snooze #5days 1h", "5days")])
def test_an_id_that_reads_as_a_longer_span_needs_its_hash(text: str, reminder_id: str) -> None:
    # "snooze 12days 2h" is 12 days and 2 hours, as a person would read it; "#" says it is an id.
    now = _at("2026-12-01 20:49", NY)
    command = parse(text, now, NY, "+12125550147")
    assert isinstance(command, Snooze) and command.id == reminder_id, command


def test_no_reminder_id_reads_as_a_time() -> None:
    """A seeded sample of ids as bot.ids makes them: "snooze <id> 2h" must keep its id, not become a date."""
    chooser = random.Random(16)
    ids = ["".join(chooser.choice(ALPHABET) for _ in range(ID_LENGTH)) for _ in range(2000)]
    now = _at("2026-11-30 08:00", NY)
    commands = {reminder_id: parse(f"snooze {reminder_id} 2h", now, NY, "+12125550147") for reminder_id in ids
                if not reminder_id.isdigit()}  # an all-digit id needs its "#" ("snooze #123456")
    assert [reminder_id for reminder_id, command in commands.items()
            if not (isinstance(command, Snooze) and command.id == reminder_id)] == []


@pytest.mark.parametrize("phrase", ["tmrw at seven", "nine thirty", "quarter to five", "half three", "in 1h30",
                                    "every first tuesday", "by eod", "a couple of hours", "twenty-first of march",
                                    "5pmish", "this arvo"])
def test_respelling_is_idempotent(phrase: str) -> None:
    once = respell(normalize_phrase(phrase))
    assert once != normalize_phrase(phrase)
    assert respell(once) == once


HOSTILE = ["every " * 400, "in 1 " * 400, "at 5 " * 400, "half past " * 200, "nine thirty " * 160,
           "the 1st and " * 150, "twenty five " * 160, "a week from " * 180, "in " + "1h " * 600, "9." * 1000,
           "1" * 2000, "mon, " * 400, "every 1st of every month " * 80, "tmrw " * 400]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda text: text[:12].strip().replace(" ", "_"))
@pytest.mark.timeout(30)  # a bound no machine load reaches (unbounded, these took minutes); bench/ measures speed
def test_a_hostile_message_is_read_from_every_word(text: str) -> None:
    text = text[:2000]
    now = _at("2026-06-10 10:30", NY)
    starts = [0] + [index + 1 for index, char in enumerate(text) if char == " " and index + 1 < len(text)]
    for start in starts:  # as the parser does: each ending of the message may be the when-phrase
        reading = read_schedule(text[start:], now, NY, False)
        assert isinstance(reading, (Moment, TimeProblem))
        # Longer than any when-phrase: refused before the rules look at it.
        assert len(text) - start <= 4 * MAX_PHRASE_LENGTH or reading == TimeProblem("unreadable", text[start:].strip())


# --- Two doubts at once: every reading, to ask which day -----------------------------------------------

def _local(moments: tuple[datetime, ...], zone: str) -> list[str]:
    return [_shown(moment, zone, False) for moment in moments]


@pytest.mark.parametrize("phrase, choices", [
    ("next friday at 3", ["2026-12-04 03:00", "2026-12-04 15:00", "2026-12-11 03:00", "2026-12-11 15:00"]),
    ("next friday at midnight", ["2026-12-04 00:00", "2026-12-05 00:00", "2026-12-11 00:00", "2026-12-12 00:00"]),
], ids=["day-and-half", "day-and-midnight"])
def test_two_doubts_give_every_reading(phrase: str, choices: list[str]) -> None:
    reading = read_schedule(phrase, _at("2026-12-03 10:00", NY), NY, False)
    assert isinstance(reading, TimeProblem) and reading.kind == "ambiguous"
    assert _local(reading.choices, NY) == choices


def test_a_dotted_pair_at_night_is_the_time_either_half_or_the_date() -> None:
    # 8 PM in London: "3.12" is 3:12 tonight (after midnight) or tomorrow afternoon, or 3 December.
    reading = read_schedule("3.12", _at("2026-06-10 20:00", LONDON), LONDON, True)
    assert isinstance(reading, TimeProblem) and reading.kind == "ambiguous"
    assert _local(reading.choices, LONDON) == ["2026-06-11 03:12", "2026-06-11 15:12", "2026-12-03 09:00"]


@pytest.mark.parametrize("phrase, parts", [
    ("dec 4", {"date"}), ("3pm", {"clock"}), ("dec 4 at 3pm", {"date", "clock"}), ("friday", {"weekday"}),
    ("tomorrow evening", {"relative_day", "part"}), ("blorp", set()), ("every day", set()),
])
def test_named_parts(phrase: str, parts: set[str]) -> None:
    assert named_parts(phrase, False) == parts
