"""bot.series, the one function that advances a repeating reminder: DST changes, month-ends, bounds.

The DST changes are found in zoneinfo (every one from 2026 to 2028 in five zones, both
hemispheres), not listed by hand; the properties run over rules the parser writes and over
rules built directly, each re-checked from later starting points as a restarted process would.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.language.commands import Remind, Snooze
from bot.language.parser import read_command
from bot.series import Series, anchor_of, describe_rule, localize, next_after, occurrences_after, upcoming

DST_ZONES = ["America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney", "Pacific/Auckland"]
ZONES = DST_ZONES + ["UTC", "Asia/Kolkata"]
SENDER = "+12125550147"
BOUNDED = settings(max_examples=200, deadline=None)
UTC = timezone.utc


# --- the DST changes, from zoneinfo ---------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One UTC-offset change of a zone: a gap (clocks forward) or a fold (clocks back)."""

    zone: str
    instant: datetime  # aware UTC: the first instant with the new offset
    before: timedelta
    after: timedelta

    @property
    def is_gap(self) -> bool:
        return self.after > self.before

    @property
    def size(self) -> timedelta:
        return abs(self.after - self.before)

    @property
    def day(self) -> date:
        return (self.instant + self.before).date()

    @property
    def inside(self) -> datetime:
        """A wall time in the middle of the skipped (gap) or repeated (fold) hour: 02:30 or 01:30."""
        start = self.instant + (self.before if self.is_gap else self.after)
        return (start + self.size / 2).replace(tzinfo=None)

    def __str__(self) -> str:
        return f"{self.zone}-{self.day}-{'gap' if self.is_gap else 'fold'}"


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _changes(zone_name: str, first_year: int = 2026, last_year: int = 2028) -> list[Change]:
    """Find every offset change by scanning hours, then bisecting to the second."""
    zone = ZoneInfo(zone_name)
    found = []
    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    while moment < end:
        following = moment + timedelta(hours=1)
        if _offset(zone, following) != _offset(zone, moment):
            low, high = moment, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _offset(zone, middle) == _offset(zone, low) else (low, middle)
            found.append(Change(zone_name, high, _offset(zone, low), _offset(zone, high)))
        moment = following
    return found


CHANGES = [change for zone in DST_ZONES for change in _changes(zone)]


def test_every_zone_changes_twice_a_year() -> None:
    for zone in DST_ZONES:
        changes = [change for change in CHANGES if change.zone == zone]
        assert len(changes) == 6 and sum(change.is_gap for change in changes) == 3, zone
        assert all(change.size == timedelta(hours=1) for change in changes)


def _wall(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _gaps(moments: list[datetime]) -> list[timedelta]:
    """Real time between consecutive instants (in one zone, aware datetimes subtract by wall time)."""
    instants = [moment.astimezone(UTC) for moment in moments]
    return [later - earlier for earlier, later in zip(instants, instants[1:])]


def _from_anchor(series: Series, count: int) -> list[datetime]:
    """The series' first ``count`` occurrences, the anchor's own instant included."""
    return upcoming(series, localize(series.anchor, ZoneInfo(series.zone)) - timedelta(seconds=1), count)


def _expect_wall_clock(change: Change, moments: list[datetime], days: list[date], wall_time: time) -> None:
    """Each occurrence is at ``wall_time`` on its day; in a gap, moved forward by the gap; in a fold, the first."""
    assert [_wall(moment, change.zone).date() for moment in moments] == days
    for moment, day in zip(moments, days):
        wall = datetime.combine(day, wall_time)
        if day == change.day and change.is_gap:
            assert _wall(moment, change.zone) == wall + change.size, moment
        else:
            assert _wall(moment, change.zone) == wall, moment
        if day == change.day and not change.is_gap:
            assert moment.utcoffset() == change.before  # the first of the two 01:30s, and only once


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_daily_keeps_its_wall_time_and_moves_only_on_the_gap_day(change: Change) -> None:
    anchor = change.inside - timedelta(days=5)
    moments = _from_anchor(Series("FREQ=DAILY", anchor, change.zone), 11)
    _expect_wall_clock(change, moments, [anchor.date() + timedelta(days=step) for step in range(11)],
                       anchor.time())
    assert len({moment.date() for moment in moments}) == 11  # once a day, the fold day too


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_daily_at_an_ordinary_time_changes_only_its_offset(change: Change) -> None:
    anchor = datetime.combine(change.day - timedelta(days=3), time(12, 0))
    moments = _from_anchor(Series("FREQ=DAILY", anchor, change.zone), 7)
    assert {_wall(moment, change.zone).time() for moment in moments} == {time(12, 0)}
    assert [moment.utcoffset() for moment in moments] == [change.before] * 3 + [change.after] * 4


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_weekly_keeps_its_wall_time_across_the_change(change: Change) -> None:
    anchor = change.inside - timedelta(weeks=3)
    code = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][anchor.weekday()]
    for rule in ("FREQ=WEEKLY", f"FREQ=WEEKLY;BYDAY={code}"):
        moments = _from_anchor(Series(rule, anchor, change.zone), 7)
        _expect_wall_clock(change, moments, [anchor.date() + timedelta(weeks=step) for step in range(7)],
                           anchor.time())


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_monthly_keeps_its_wall_time_across_the_change(change: Change) -> None:
    anchor = change.inside - relativedelta(months=3)
    day = change.day.day
    moments = _from_anchor(Series(f"FREQ=MONTHLY;BYMONTHDAY={day}", anchor, change.zone), 7)
    months = [anchor.date().replace(day=1) + relativedelta(months=step) for step in range(7)]
    days = [month.replace(day=min(day, calendar.monthrange(month.year, month.month)[1])) for month in months]
    _expect_wall_clock(change, moments, days, anchor.time())


@pytest.mark.parametrize("interval", [1, 3])
@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_hourly_counts_real_elapsed_time(change: Change, interval: int) -> None:
    zone = ZoneInfo(change.zone)
    start = change.instant - timedelta(hours=6)
    series = Series(f"FREQ=HOURLY;INTERVAL={interval}", anchor_of(start, change.zone), change.zone)
    moments = upcoming(series, start - timedelta(seconds=1), 12)
    assert moments[0] == start
    assert set(_gaps(moments)) == {timedelta(hours=interval)}
    walls = [_wall(moment, change.zone) for moment in moments]
    if change.is_gap:  # no wall time inside the gap, and the hour is skipped on the wall clock
        skipped_from = (change.instant + change.before).replace(tzinfo=None)
        assert not [wall for wall in walls if skipped_from <= wall < skipped_from + change.size]
    elif interval == 1:  # the repeated hour is sent twice, an hour apart
        assert len(set(walls)) == len(walls) - 1
    assert all(moment.tzinfo == zone for moment in moments)


def test_a_daily_reminder_set_for_a_gap_does_not_drift_afterwards() -> None:
    # The issue: "every day at 2:30am" in Berlin went out at 03:30 on 2026-03-29, then 03:30 forever.
    series = Series("FREQ=DAILY", datetime(2026, 3, 28, 2, 30), "Europe/Berlin")
    sent = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert next_after(series, sent - timedelta(hours=5)) == sent
    assert next_after(series, sent) == datetime(2026, 3, 30, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))


def test_an_ambiguous_time_is_sent_once_even_from_inside_the_fold() -> None:
    zone = ZoneInfo("America/New_York")
    series = Series("FREQ=DAILY", datetime(2026, 10, 30, 1, 30), "America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=zone)  # fold=0: 01:30 EDT
    assert next_after(series, first - timedelta(days=1)) == first
    # Between the two 01:30s (01:45 EDT), the next one is the next day's, not 01:30 EST.
    assert next_after(series, first + timedelta(minutes=15)) == datetime(2026, 11, 2, 1, 30, tzinfo=zone)


# --- month-ends ----------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [1, 2])
@pytest.mark.parametrize("day", [29, 30, 31])
@pytest.mark.parametrize("form", ["anchor", "bymonthday"])
def test_monthly_on_the_29th_to_31st_falls_on_the_last_day_of_shorter_months(day: int, form: str,
                                                                              interval: int) -> None:
    rule = "FREQ=MONTHLY" if form == "anchor" else f"FREQ=MONTHLY;BYMONTHDAY={day}"
    rule += f";INTERVAL={interval}" if interval > 1 else ""
    anchor = datetime(2027, 1, day if form == "anchor" else 2, 9, 0)
    moments = _from_anchor(Series(rule, anchor, "America/New_York"), 24 // interval)
    months = [(2027 + index // 12, index % 12 + 1) for index in range(0, 24, interval)]
    assert [_wall(moment, "America/New_York") for moment in moments] == [
        datetime(year, month, min(day, calendar.monthrange(year, month)[1]), 9, 0) for year, month in months]
    assert describe_rule(rule, anchor).endswith(f"on the {_ordinal(day)} (the last day in shorter months)")


def test_leap_february_gets_its_29th() -> None:
    moments = _from_anchor(Series("FREQ=MONTHLY;BYMONTHDAY=30", datetime(2028, 1, 30, 9), "UTC"), 3)
    assert [moment.date() for moment in moments] == [date(2028, 1, 30), date(2028, 2, 29), date(2028, 3, 30)]


@pytest.mark.parametrize("rule, anchor", [
    ("FREQ=YEARLY", datetime(2028, 2, 29, 9)),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", datetime(2027, 2, 28, 9)),
], ids=["anchor", "bymonthday"])
def test_yearly_on_feb_29_falls_on_feb_28_in_other_years(rule: str, anchor: datetime) -> None:
    moments = _from_anchor(Series(rule, anchor, "Europe/London"), 6)
    leap = [date(year, 2, 29 if calendar.isleap(year) else 28) for year in range(anchor.year, anchor.year + 6)]
    assert [moment.date() for moment in moments] == leap
    assert describe_rule(rule, anchor) == "every year on Feb 29 (Feb 28 in other years)"


def test_the_parser_agrees_on_the_month_end() -> None:
    command = read_command("remind me every month on the 31st: pay card",
                           datetime.fromisoformat("2026-01-31T20:00:00-05:00"), "America/New_York", SENDER)
    assert isinstance(command, Remind)
    assert command.send_at == datetime(2026, 2, 28, 9, tzinfo=ZoneInfo("America/New_York"))
    series = Series(command.recurrence or "", command.anchor or datetime.min, "America/New_York")
    assert [moment.day for moment in upcoming(series, command.send_at, 3)] == [31, 30, 31]


# --- COUNT and UNTIL, and restarting ---------------------------------------------------------


def test_count_counts_from_the_anchor_across_a_gap_and_restarts() -> None:
    series = Series("FREQ=DAILY;COUNT=5", datetime(2026, 3, 27, 2, 30), "Europe/Berlin")
    moments = _from_anchor(series, 10)
    assert [_wall(moment, "Europe/Berlin") for moment in moments] == [
        datetime(2026, 3, 27, 2, 30), datetime(2026, 3, 28, 2, 30), datetime(2026, 3, 29, 3, 30),
        datetime(2026, 3, 30, 2, 30), datetime(2026, 3, 31, 2, 30)]
    for index, moment in enumerate(moments):  # a restart after each send sees the same tail
        assert upcoming(series, moment, 10) == moments[index + 1:]
    assert next_after(series, moments[-1]) is None
    assert next_after(series, moments[-1] + timedelta(days=300)) is None


def test_hourly_count_across_a_fold_is_that_many_real_hours() -> None:
    series = Series("FREQ=HOURLY;COUNT=4", datetime(2026, 11, 1, 0, 0), "America/New_York")
    moments = _from_anchor(series, 10)
    assert len(moments) == 4
    assert _gaps(moments) == [timedelta(hours=1)] * 3
    assert [_wall(moment, "America/New_York").hour for moment in moments] == [0, 1, 1, 2]


def test_until_is_a_local_wall_time_and_inclusive() -> None:
    series = Series("FREQ=DAILY;UNTIL=20260615T090000", datetime(2026, 6, 12, 9), "America/New_York")
    assert [moment.day for moment in _from_anchor(series, 10)] == [12, 13, 14, 15]
    series = Series("FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231T235959", datetime(2026, 12, 7, 8), "Europe/London")
    assert [moment.day for moment in _from_anchor(series, 10)] == [7, 14, 21, 28]


def test_an_hourly_until_is_an_instant_and_a_repeated_one_means_the_later() -> None:
    series = Series("FREQ=HOURLY;UNTIL=20261101T013000", datetime(2026, 10, 31, 22), "America/New_York")
    moments = _from_anchor(series, 10)
    assert [_wall(moment, "America/New_York").hour for moment in moments] == [22, 23, 0, 1, 1]
    series = Series("FREQ=HOURLY;UNTIL=20260308T023000", datetime(2026, 3, 7, 23), "America/New_York")
    assert [_wall(moment, "America/New_York").hour for moment in _from_anchor(series, 10)] == [23, 0, 1, 3]


def test_anchor_of_is_the_naive_wall_time() -> None:
    assert anchor_of(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "Europe/Berlin") == datetime(2026, 3, 29, 3, 30)


# --- properties over generated rules ---------------------------------------------------------

CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn, frequencies: tuple[str, ...] = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"),
          bounds: tuple[str, ...] = ("", "count", "until")) -> str:
    """Rules of the shapes the parser writes (and a few more BYMONTHDAY/BYDAY combinations)."""
    frequency = draw(st.sampled_from(frequencies))
    parts = [f"FREQ={frequency}"]
    interval = draw(st.integers(min_value=1, max_value=4))
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if frequency == "WEEKLY" and draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=7, unique=True))
        parts.append("BYDAY=" + ",".join(sorted(days, key=CODES.index)))
    if frequency == "MONTHLY" and draw(st.booleans()):
        parts.append(f"BYMONTHDAY={draw(st.integers(min_value=1, max_value=31))}")
    if frequency == "YEARLY" and draw(st.booleans()):
        parts.append("BYMONTH=2;BYMONTHDAY=29")
    bound = draw(st.sampled_from(bounds))
    if bound == "count":
        parts.append(f"COUNT={draw(st.integers(min_value=1, max_value=40))}")
    elif bound == "until":
        until = draw(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2031, 12, 31)))
        parts.append(f"UNTIL={until:%Y%m%dT%H%M%S}")
    return ";".join(parts)


anchors = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)).map(
    lambda moment: moment.replace(second=0, microsecond=0))
series_values = st.builds(Series, rules(), anchors, st.sampled_from(ZONES))


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    return _wall(wall.replace(tzinfo=zone).astimezone(UTC), zone.key) == wall  # via UTC: a gap time comes back moved


@BOUNDED
@given(series=series_values, start=st.integers(min_value=-3 * 24 * 60, max_value=400 * 24 * 60))
def test_occurrences_increase_and_keep_the_anchor_wall_time(series: Series, start: int) -> None:
    zone = ZoneInfo(series.zone)
    after = localize(series.anchor, zone) + timedelta(minutes=start)
    found = list(zip(range(30), occurrences_after(series, after)))
    moments = [occurrence.at for _, occurrence in found]
    # Compared as instants: two aware times in one zone compare by wall time, so the two 02:00s of
    # the night clocks go back (fold 0 and 1, an hour apart) would compare equal.
    instants = [moment.astimezone(UTC) for moment in moments]
    assert all(instant > after.astimezone(UTC) for instant in instants)
    assert all(earlier < later for earlier, later in zip(instants, instants[1:]))
    assert moments == upcoming(series, after, 30)
    if "HOURLY" in series.rule:
        step = timedelta(hours=int(series.rule.partition("INTERVAL=")[2].split(";")[0] or 1))
        assert set(_gaps(moments)) <= {step}
        return
    for _, (wall, at) in found:
        assert wall.time() == series.anchor.time()  # never drifts from the anchor's wall time
        if _exists(wall, zone):
            assert _wall(at, series.zone) == wall and at.utcoffset() == wall.replace(tzinfo=zone).utcoffset()
        else:  # a gap day: moved forward by the gap, that day only
            gap = wall.replace(tzinfo=zone, fold=1).utcoffset() - wall.replace(tzinfo=zone, fold=0).utcoffset()
            assert _wall(at, series.zone) == wall + gap
        if "MONTHLY" in series.rule and "BYMONTHDAY" not in series.rule:
            last = calendar.monthrange(wall.year, wall.month)[1]
            assert wall.day == min(series.anchor.day, last)  # the anchor's day, clamped to the month


@BOUNDED
@given(series=st.builds(Series, rules(("DAILY", "WEEKLY"), ("", "until")), anchors, st.sampled_from(ZONES)),
       start=st.integers(min_value=-3 * 24 * 60, max_value=1200 * 24 * 60))
def test_daily_and_weekly_agree_with_expanding_from_the_anchor(series: Series, start: int) -> None:
    # next_after skips whole periods ahead for these; plain dateutil from the anchor is the reference.
    zone = ZoneInfo(series.zone)
    after = localize(series.anchor, zone).astimezone(UTC) + timedelta(minutes=start)
    expected = next((localize(wall, zone) for wall in rrulestr(series.rule, dtstart=series.anchor)
                     if localize(wall, zone).astimezone(UTC) > after), None)
    assert next_after(series, after) == expected


@BOUNDED
@given(series=series_values, picks=st.lists(st.integers(min_value=0, max_value=29), min_size=1, max_size=5))
def test_a_restart_from_any_later_point_sees_the_same_tail(series: Series, picks: list[int]) -> None:
    start = localize(series.anchor, ZoneInfo(series.zone)) - timedelta(seconds=1)
    moments = upcoming(series, start, 30)
    assume(moments)
    chained = [moments[0]]  # the dispatcher: one next_after after each send
    while len(chained) < len(moments):
        following = next_after(series, chained[-1])
        assert following is not None
        chained.append(following)
    assert chained == moments
    for pick in picks:
        index = pick % len(moments)
        later = moments[index].astimezone(UTC) + (_gaps(moments[index:index + 2]) or [timedelta(seconds=3)])[0] / 3
        assert upcoming(series, later, 30 - index - 1) == moments[index + 1:] or len(moments) == 30


# --- the description round trip ----------------------------------------------------------------

DAY_WORDS = ["monday", "tue", "wednesday", "thu", "friday", "sat", "sunday"]
MONTH_WORDS = ["jan", "february", "mar", "april", "may", "jun", "july", "aug", "sept", "oct", "november", "dec"]


def _ordinal(day: int) -> str:
    return f"{day}{'th' if 11 <= day <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


day_lists = st.lists(st.sampled_from(DAY_WORDS), min_size=1, max_size=4, unique=True).map(
    lambda days: days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1])
month_days = st.tuples(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=31)).filter(
    lambda month_day: month_day[1] <= calendar.monthrange(2028, month_day[0])[1])
repeats = st.one_of(
    st.sampled_from(["every day", "daily", "every other day", "every hour", "hourly", "every other hour",
                     "every week", "weekly", "every other week", "every month", "monthly", "every other month",
                     "every year", "yearly", "every weekday", "every weekend", "weekdays", "every morning",
                     "every evening", "every night"]),
    st.builds("every {} {}".format, st.integers(min_value=2, max_value=12),
              st.sampled_from(["hours", "days", "weeks", "months", "years"])),
    st.builds("every {}".format, day_lists),
    st.builds("every other {}".format, day_lists),
    st.builds("every {} weeks on {}".format, st.integers(min_value=1, max_value=6), day_lists),
    st.builds("{} on the {}".format, st.sampled_from(["every month", "every other month", "every 3 months"]),
              st.integers(min_value=1, max_value=31).map(_ordinal)),
    st.builds(lambda every, month_day: f"{every} on {MONTH_WORDS[month_day[0] - 1]} {month_day[1]}",
              st.sampled_from(["every year", "every 2 years"]), month_days),
)
times_of_day = st.one_of(
    st.just(""),
    st.sampled_from([" at 2:30am", " at 1:30am", " at 9am", " at noon", " at midnight", " at 3:15 pm"]),
    st.builds(" at {}:{:02d}".format, st.integers(min_value=10, max_value=23), st.integers(min_value=0, max_value=59)),
)
bounds = st.one_of(
    st.just(""),
    st.just(" once"),
    st.builds(" {} times".format, st.integers(min_value=2, max_value=30)),
    st.builds(" for {} {}".format, st.integers(min_value=2, max_value=6), st.sampled_from(["hours", "days", "weeks",
                                                                                          "months"])),
    st.builds(lambda month_day, year: f" until {MONTH_WORDS[month_day[0] - 1]} {month_day[1]}{year}", month_days,
              st.sampled_from(["", ", 2028"])),
)
nows = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                    timezones=st.sampled_from([ZoneInfo(zone) for zone in ZONES]))


def _occurrences(command: Remind, count: int) -> list[datetime]:
    assert command.recurrence and command.anchor
    zone = getattr(command.send_at.tzinfo, "key")
    return [command.send_at, *upcoming(Series(command.recurrence, command.anchor, zone), command.send_at, count - 1)]


@BOUNDED
@given(repeat=repeats, at=times_of_day, bound=bounds, now=nows)
def test_the_description_reads_back_as_the_same_series(repeat: str, at: str, bound: str, now: datetime) -> None:
    zone = getattr(now.tzinfo, "key")
    command = read_command(f"remind me {repeat}{at}{bound}: x", now, zone, SENDER)
    assume(isinstance(command, Remind))
    assert isinstance(command, Remind) and command.recurrence and command.anchor
    # A naive anchor cannot say which of two repeated wall times an hourly series started at.
    assume(not ("HOURLY" in command.recurrence and command.anchor.fold))
    description = describe_rule(command.recurrence, command.anchor)
    assert not description.startswith("repeating (")
    again = read_command(f"remind me at {command.anchor:%H:%M:%S} {description}: x", now, zone, SENDER)
    assert isinstance(again, Remind), (description, again)
    assert _occurrences(again, 20) == _occurrences(command, 20), description
    if ", until" not in description:  # the time may follow the description too
        again = read_command(f"remind me {description} at {command.anchor:%H:%M:%S}: x", now, zone, SENDER)
        assert isinstance(again, Remind) and _occurrences(again, 20) == _occurrences(command, 20), description


@pytest.mark.parametrize("text, description", [
    ("every 3 weeks on monday", "every 3 weeks on Mon"),
    ("every 3 weeks on mon and thu", "every 3 weeks on Mon, Thu"),
    ("every other monday", "every other Mon"),
    ("every weekday", "every Mon, Tue, Wed, Thu, Fri"),
    ("every week", "every Thu"),
    ("every month", "every month on the 11th"),
    ("every month on the 31st", "every month on the 31st (the last day in shorter months)"),
    ("every 2 hours", "every 2 hours"),
    ("every year on feb 29", "every year on Feb 29 (Feb 28 in other years)"),
    ("every day 5 times", "every day, 5 times"),
    ("every monday once", "every Mon, once"),
    ("every day until dec 31", "every day, until Dec 31, 2026"),
    ("every day for 2 weeks", "every day, until Jun 24, 2026 at 10:30 AM"),
], ids=lambda value: value.replace(" ", "_"))
def test_the_confirmation_says_what_the_rule_does(text: str, description: str) -> None:
    command = read_command(f"remind me {text}: x", datetime.fromisoformat("2026-06-10T10:30:00-04:00"),
                           "America/New_York", SENDER)
    assert isinstance(command, Remind) and command.recurrence
    assert describe_rule(command.recurrence, command.anchor) == description


# --- times counted from now are never early -------------------------------------------------


RELATIVE = [("remind me in 5 seconds: x", timedelta(seconds=5)), ("remind me in 1 second: x", timedelta(seconds=1)),
            ("remind me in 2 minutes: x", timedelta(minutes=2)), ("remind me to stretch in 5 secs", timedelta(seconds=5)),
            ("snooze 5 seconds", timedelta(seconds=5)), ("snooze", timedelta(minutes=10)),
            ("remind me every hour: x", timedelta(hours=1))]


@BOUNDED
@given(now=nows, microsecond=st.integers(min_value=100_000, max_value=999_999), case=st.sampled_from(RELATIVE))
def test_a_relative_time_is_never_before_the_asked_instant(now: datetime, microsecond: int,
                                                           case: tuple[str, timedelta]) -> None:
    phrase, asked = case
    now = now.replace(microsecond=microsecond)
    command = read_command(phrase, now, getattr(now.tzinfo, "key"), SENDER)
    assert isinstance(command, (Remind, Snooze)), command
    elapsed = command.send_at.astimezone(UTC) - now.astimezone(UTC)
    assert asked <= elapsed < asked + timedelta(seconds=1)  # rounded up to the whole second, never down
    assert command.send_at.microsecond == 0
