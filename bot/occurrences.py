"""Expand a recurring reminder's RRULE in its local zone (dateutil does the calendar)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from bot.timeutil import as_utc

_DAY_NAMES = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat", "SU": "Sun"}
_FREQ_UNITS = {"HOURLY": "hour", "DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year", "MINUTELY": "minute"}


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Attach ``zone`` to a wall-clock time; a time in a DST gap moves forward by the gap."""
    aware = naive.replace(tzinfo=zone, fold=0)
    round_trip = aware.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:  # nonexistent wall time (spring forward)
        aware = (aware.astimezone(ZoneInfo("UTC"))).astimezone(zone)
    return aware


def next_occurrence(rule: str, first: datetime, zone_name: str, after: datetime) -> datetime | None:
    """Return the first occurrence strictly after ``after`` (UTC), or None when the rule is over.

    ``first`` is the reminder's first occurrence; occurrences keep its local clock time
    across DST changes because the rule is expanded on naive local times.
    """
    zone = ZoneInfo(zone_name)
    start_local = first.astimezone(zone).replace(tzinfo=None)
    after_local = as_utc(after).astimezone(zone).replace(tzinfo=None)
    rules = rrulestr(rule, dtstart=start_local, ignoretz=True)
    # Step past wall times that map to an instant not after ``after`` (fall-back folds).
    candidate = rules.after(after_local - timedelta(hours=2), inc=False)
    while candidate is not None:
        aware = localize(candidate, zone)
        if as_utc(aware) > as_utc(after):
            return aware
        candidate = rules.after(candidate, inc=False)
    return None


def advance(rule: str, current: datetime, zone_name: str, after: datetime) -> tuple[datetime | None, str]:
    """Return the occurrence after ``after`` and the rule re-based on it, or (None, rule) when the series is over.

    The stored row always starts its series at the occurrence it will send next, so a
    ``COUNT`` has to shrink by the occurrences consumed (sent, or skipped while every
    instance was down); without that "5 times" would restart its count at every send.
    """
    following = next_occurrence(rule, current, zone_name, after)
    if following is None or "COUNT=" not in rule:
        return following, rule
    zone = ZoneInfo(zone_name)
    start_local = current.astimezone(zone).replace(tzinfo=None)
    following_local = following.astimezone(zone).replace(tzinfo=None)
    consumed = len(rrulestr(rule, dtstart=start_local, ignoretz=True).between(
        start_local, following_local, inc=True)) - 1  # occurrences before ``following``
    parts = [part.split("=", 1) for part in rule.split(";")]
    rebased = ";".join(f"{key}={int(value) - consumed}" if key == "COUNT" else f"{key}={value}"
                       for key, value in parts)
    return following, rebased


def describe_rule(rule: str) -> str:
    """Describe an RRULE in a few words: "every day", "every Mon, Wed", "every 2 hours"."""
    parts = dict(part.split("=", 1) for part in rule.split(";") if "=" in part)
    unit = _FREQ_UNITS.get(parts.get("FREQ", ""), "time")
    interval = int(parts.get("INTERVAL", "1") or 1)
    if "BYDAY" in parts and parts.get("FREQ") == "WEEKLY":
        days = [_DAY_NAMES.get(day[-2:], day) for day in parts["BYDAY"].split(",")]
        text = ("every other " if interval == 2 else "every ") + ", ".join(days)
    elif "BYMONTHDAY" in parts:
        text = f"monthly on day {parts['BYMONTHDAY']}"
    elif interval == 1:
        text = f"every {unit}"
    elif interval == 2:
        text = f"every other {unit}"
    else:
        text = f"every {interval} {unit}s"
    if "COUNT" in parts:
        text += f", {parts['COUNT']} times"
    if "UNTIL" in parts:
        until = parts["UNTIL"]
        text += f", until {until[:4]}-{until[4:6]}-{until[6:8]}"
    return text
