"""Properties of the parser over generated text: total, well-shaped, never past, never too far."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.language.commands import (MAX_DAYS_AHEAD, QUESTION_TTL_SECONDS, Ask, Cancel, Error, Question, QuestionKind,
                                   Remind, Turn, to_json)
from bot.language.grammar import COMMANDS
from bot.language.parser import converse, parse, read_command, read_turn
from bot.language.when import ceil_second

SHAPES = tuple(row.command for row in COMMANDS)
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
    _check_time(getattr(command, "send_at", None), now)
    if isinstance(command, Remind):
        assert command.text and command.text == command.text.strip()
        assert not any(ord(char) < 32 for char in command.text)
    if isinstance(command, Ask):  # a question offers only times a confirmation could have
        assert command.reply and command.question.asked_at == now
        for option in command.question.options:
            _check_time(option.send_at, now)
            assert option.text == option.text.strip()
    if isinstance(command, Cancel):
        assert command.id == command.id.lower() and 4 <= len(command.id) <= 8


def _check_time(send_at: datetime | None, now: datetime) -> None:
    if send_at is not None:
        assert send_at.tzinfo is not None and send_at.microsecond == 0
        assert send_at > now
        assert send_at - ceil_second(now) <= timedelta(days=MAX_DAYS_AHEAD)  # times from now round up


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
    # rounded up to the whole second, so never early. Compared in UTC: an aware time in a DST fold
    # (01:00 the second time) never equals one in another zone (PEP 495), whatever its instant.
    expected = ceil_second(now.astimezone(timezone.utc)) + timedelta(minutes=minutes)
    assert command.send_at.astimezone(timezone.utc) == expected
    assert command.send_at.tzinfo == ZoneInfo(zone)
    assert command.recurrence is None and command.to == "+12125550147"


# --- Issue 14: noise never becomes a reminder; the conversation keeps the same contract ------------

NOISE = ["hey", "hi", "hello", "pls", "please", "plz", "thanks", "thank you", "thx", "ty", "can you", "could you",
         "would you", "kindly", "hey bot", "ok", "okay", "k", "cool", "great", "got it", "!", "?", ",", "...",
         "\U0001f44d", "\U0001f64f", "lol"]


@BOUNDED
@given(words=st.lists(st.sampled_from(NOISE), min_size=1, max_size=8), now=nows, zone=st.sampled_from(ZONES),
       sender=st.sampled_from(SENDERS))
def test_a_message_of_noise_words_never_becomes_a_reminder(words: list[str], now: datetime, zone: str,
                                                           sender: str) -> None:
    command = read_command(" ".join(words), now, zone, sender)
    assert not isinstance(command, (Remind, Ask)), command


def _question(kind: str, asked_at: datetime, option_at: datetime) -> Question:
    option = Remind("+12125550147", option_at, "" if kind == QuestionKind.WHAT_TEXT else "call mom")
    week = timedelta(days=7)
    options = {QuestionKind.WHICH_TIME: (option, Remind(option.to, option_at + timedelta(hours=12), option.text)),
               QuestionKind.WHICH_DAY: tuple(Remind(option.to, option_at + shift, option.text) for shift in (
                   timedelta(0), timedelta(hours=12), week, week + timedelta(hours=12))),
               QuestionKind.WHAT_TEXT: (option,), QuestionKind.DELETE_ALL: ()}[kind]
    return Question(kind, asked_at, options)


ANSWERS = ["am", "pm", "5pm", "1", "2", "the first", "evening", "yes", "no", "list", "call mom", "thanks",
           "remind me at 5 to x", "delete all", "stop", "snooze 5", "friday", "dec 4", "dec 4 at 3", "tomorrow 5pm"]


@BOUNDED
@given(text=st.one_of(texts, st.sampled_from(ANSWERS)), now=nows, zone=st.sampled_from(ZONES),
       sender=st.sampled_from(SENDERS), kind=st.sampled_from(list(QuestionKind)),
       age=st.integers(min_value=0, max_value=2 * QUESTION_TTL_SECONDS),
       ahead=st.integers(min_value=-3600, max_value=86400 * 300))
def test_a_conversation_step_never_raises_and_keeps_the_contract(text: str, now: datetime, zone: str, sender: str,
                                                                 kind: str, age: int, ahead: int) -> None:
    utc = now.astimezone(timezone.utc)
    pending = _question(kind, utc - timedelta(seconds=age), ceil_second(utc) + timedelta(seconds=ahead))
    turn = read_turn(text, now, zone, sender, pending)
    assert isinstance(turn, Turn)
    _check(turn.command, now)
    if isinstance(turn.command, Ask):
        assert turn.pending == turn.command.question
    else:
        assert turn.pending in (None, pending)
    if age > QUESTION_TTL_SECONDS:
        assert turn.pending is None or isinstance(turn.command, Ask)  # an expired question is never kept
    assert converse(text, now, zone, sender, None).command == parse(text, now, zone, sender)
