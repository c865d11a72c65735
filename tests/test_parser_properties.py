"""Properties of the parser over generated text: total, well-shaped, never past, never too far."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.language.commands import (MAX_DAYS_AHEAD, Cancel, Error, Help, ListReminders, Remind, SetTimezone, Snooze,
                          Start, Stop, to_json)
from bot.language.parser import parse, read_command
from bot.language.when import ceil_second

SHAPES = (Remind, ListReminders, Cancel, Help, SetTimezone, Stop, Start, Snooze, Error)
ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "UTC", "Asia/Kolkata", "Australia/Sydney"]
SENDERS = ["+12125550147", "+447400123456", "+33612345678", "+13105550123"]
PHRASES = ["in 10 minutes", "tomorrow 9am", "at 7", "friday", "dec 3", "12/25", "every day at 8am", "noon",
           "midnight", "in 1h20m", "tonight", "on the 31st", "3pm PST", "every monday 5 times",
           "in 2 days at 5pm", "every other week", "feb 29", "2026-12-01 14:00", "in 400 days", "blorp"]
BOUNDED = settings(max_examples=200, deadline=None)

nows = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31),
                    timezones=st.sampled_from([ZoneInfo(zone) for zone in ZONES] + [timezone.utc]))
texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FFFF), max_size=120),
    st.builds(lambda phrase, body: f"remind me {phrase}: {body}", st.sampled_from(PHRASES), st.text(max_size=40)),
    st.builds(lambda body, phrase: f"remind me to {body} {phrase}", st.text(max_size=40), st.sampled_from(PHRASES)),
    st.builds(lambda word, rest: f"{word} {rest}", st.sampled_from(
        ["remind", "remind me", "cancel", "delete", "tz", "snooze", "snooze until", "remind +1", "remind 0"]),
        st.text(max_size=60)),
    st.builds(lambda words: " ".join(words), st.lists(st.sampled_from(
        PHRASES + ["remind", "me", "to", ":", "at", "every", "until", "for", "2", "weeks", "times", "\x00", "\n"]),
        max_size=12)),
)


def _check(command: object, now: datetime) -> None:
    now = now.astimezone(timezone.utc)  # compare instants, not wall times (hypothesis makes gap/fold times)
    assert isinstance(command, SHAPES)
    to_json(command)  # every shape renders
    send_at = getattr(command, "send_at", None)
    if send_at is not None:
        assert send_at.tzinfo is not None and send_at.microsecond == 0
        assert send_at > now
        assert send_at - ceil_second(now) <= timedelta(days=MAX_DAYS_AHEAD)  # times from now round up
    if isinstance(command, Remind):
        assert command.text and command.text == command.text.strip()
        assert not any(ord(char) < 32 for char in command.text)
    if isinstance(command, Cancel):
        assert command.id == command.id.lower() and 4 <= len(command.id) <= 8


@BOUNDED
@given(text=texts, now=nows, zone=st.sampled_from(ZONES), sender=st.sampled_from(SENDERS))
def test_read_command_never_raises_and_keeps_the_contract(text: str, now: datetime, zone: str, sender: str) -> None:
    # read_command has no safety net, so a crash here is a real bug, not hidden by parse.
    _check(read_command(text, now, zone, sender), now)


@settings(max_examples=20, deadline=None)
@given(size=st.integers(min_value=2001, max_value=200_000), char=st.sampled_from(["x", "\x00", "\u00e9", " "]))
def test_huge_messages_are_refused_politely(size: int, char: str) -> None:
    now = datetime(2026, 6, 10, 10, 30, tzinfo=ZoneInfo("America/New_York"))
    command = parse("remind me in 5 minutes: " + char * size, now, "America/New_York", "+12125550147")
    assert isinstance(command, Error) and "too long" in command.error


@BOUNDED
@given(minutes=st.integers(min_value=1, max_value=60 * 24 * 30),
       body=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFFF,
                                           exclude_categories=("Cc", "Cf", "Zl", "Zp", "Zs")),
                    min_size=1, max_size=80),
       now=nows, zone=st.sampled_from(ZONES))
def test_remind_me_in_n_minutes_is_exactly_n_minutes(minutes: int, body: str, now: datetime, zone: str) -> None:
    command = parse(f"remind me in {minutes} minutes: {body}", now, zone, "+12125550147")
    assert isinstance(command, Remind), command
    assert command.text == body
    # Elapsed real time: add in UTC (aware + timedelta in one zone is wall-clock arithmetic), from now
    # rounded up to the whole second, so never early.
    assert command.send_at == ceil_second(now.astimezone(timezone.utc)) + timedelta(minutes=minutes)
    assert command.send_at.tzinfo == ZoneInfo(zone)
    assert command.recurrence is None and command.to == "+12125550147"
