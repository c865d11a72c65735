"""Turn an inbound SMS into a Command: ``parse(text, now, zone, sender)``, and into a conversation
step with ``converse(text, now, zone, sender, pending)``.

Pure: no I/O, no clock, no environment. The commands are read by the table in
bot.language.grammar (first row that recognises the message wins); a reminder in any order by
bot.language.sentence; time phrases by bot.language.when and bot.language.repeats, with dateparser
only as a fallback for explicit when-phrases our rules do not cover. The conversation state is one
stored Question, passed in and handed back in the Turn: the parser never stores anything.
"""

from __future__ import annotations

import logging
import re
import traceback
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.language import wording
from bot.language.commands import (QUESTION_TTL_SECONDS, Ask, Command, DeleteAll, Error, Question, QuestionKind,
                                   Remind, Turn)
from bot.language.grammar import Message, Row, make_message, not_understood, read_row
from bot.language.keywords import (NO_WORDS, START_WORDS, STOP_WORDS, YES_WORDS, clean_text, is_opt_out, is_yes,
                                   plain_words, strip_noise)
from bot.language.sentence import (EXAMPLE, Untimed, ask_what_text, ask_which_day, ask_which_time, asks_for_reminder,
                                   day_first, decide, describe_problem, is_weak_run, read_phrase)
from bot.language.when import DAY_SLOTS, Moment, named_parts

__all__ = ["EXAMPLE", "MAX_INBOUND_LENGTH", "START_WORDS", "STOP_WORDS", "YES_WORDS", "clean_text", "converse",
           "describe_problem", "is_opt_out", "is_yes", "parse", "plain_words", "read_command", "read_turn"]

MAX_INBOUND_LENGTH = 2000
QUESTION_TTL = timedelta(seconds=QUESTION_TTL_SECONDS)
# What makes an answer to "What should the reminder say?" a new reminder instead: a clock time or a span.
_NEW_TIME = re.compile(r"[0-9]|\b(?:noon|midnight|half|quarter|hours?|minutes?|mins?|hrs?|one|two|three|four"
                       r"|five|six|seven|eight|nine|ten|eleven|twelve)\b")

# Answers to "Did you mean 5:00 AM or 5:00 PM?", as plain_words gives them ("a.m." is "a m").
_MORNING = frozenset({"am", "a m", "morning", "in the morning", "the morning", "am please", "morning please"})
_EVENING = frozenset({"pm", "p m", "evening", "in the evening", "the evening", "tonight", "afternoon",
                      "in the afternoon", "the afternoon", "night", "at night", "pm please", "evening please"})
# Answers by number, to the same question or to "Did you mean 1) ... or 2) ...?".
_ORDINALS = {
    form: index
    for index, (digit, ordinal, word, spelled) in enumerate(
        [("1", "1st", "first", "one"), ("2", "2nd", "second", "two"), ("3", "3rd", "third", "three"),
         ("4", "4th", "fourth", "four")])
    for form in (digit, ordinal, word, spelled, f"the {word}", f"{word} one", f"the {word} one", f"option {digit}",
                 f"number {digit}", f"the {ordinal}")
}


def parse(text: str, now: datetime, zone: str, sender: str) -> Command:
    """Read one inbound SMS into a Command; never raises, answers bad input with an Error."""
    return converse(text, now, zone, sender, None).command


def converse(text: str, now: datetime, zone: str, sender: str, pending: Question | None) -> Turn:
    """Read one inbound SMS with the question waiting on its sender; never raises.

    Returns the command and the question to store after it: the new one when the command is an
    Ask, None when the message answered it (or it expired), the same one when a command came between.
    """
    try:
        return read_turn(text, now, zone, sender, pending)
    except Exception as exc:  # noqa: BLE001 - a polite reply beats a crash; tests call read_turn
        # A bug of ours: log where it happened, but nothing of the sender's private text, which an
        # exception's message may quote (dateutil: "Unknown string format: <text>"); hence the
        # type and the frames rather than exc_info. ``internal`` lets the bot count it in its metrics.
        logging.getLogger(__name__).error(
            "could not parse a %d-character message (zone %r): %s\nTraceback (most recent call last):\n%s",
            len(text), zone, type(exc).__qualname__, "".join(traceback.format_tb(exc.__traceback__)).rstrip())
        return Turn(Error(f"Sorry, I couldn't read that. Try {EXAMPLE}.", internal=True), pending)


def read_command(text: str, now: datetime, zone: str, sender: str) -> Command:
    """Read one inbound SMS into a Command; may raise on a bug (``parse`` guards it)."""
    return read_turn(text, now, zone, sender, None).command


def is_expired(question: Question, now: datetime) -> bool:
    """Say whether a question was asked too long ago to take an answer."""
    return question.asked_at + QUESTION_TTL < now


def read_turn(text: str, now: datetime, zone: str, sender: str, pending: Question | None) -> Turn:
    """Read one inbound SMS with the pending question; may raise on a bug (``converse`` guards it)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(zone))
    ZoneInfo(zone)  # fail loudly on a bad zone from the caller
    # Aware datetimes sharing a tzinfo compare by wall time, which is wrong around DST folds
    # and gaps; in UTC, every comparison with ``now`` is between real instants.
    now = now.astimezone(timezone.utc)
    live = pending if pending is not None and not is_expired(pending, now) else None
    if len(text) > MAX_INBOUND_LENGTH:
        return Turn(Error(f"Sorry, that message is too long ({len(text)} characters). "
                          f"Keep commands under {MAX_INBOUND_LENGTH} characters."), live)
    cleaned = clean_text(text)
    if not cleaned:
        return Turn(Error(f"Sorry, that message was empty. Try {EXAMPLE}."), live)
    message = make_message(cleaned, now, zone, sender)
    if live is not None:
        answered = _answer(live, message)
        if answered is not None:
            return answered
    row, found = read_row(message)
    if live is not None and live.kind == QuestionKind.WHAT_TEXT:
        text = _answered_text(row, found, message)
        if text:
            command = _with_text(live.options[0], text, message)
            return Turn(command, command.question if isinstance(command, Ask) else None)
    if pending is not None and live is None and _looks_like_answer(pending, message, found):
        return Turn(Error(wording.question_expired(delete_all=pending.kind == QuestionKind.DELETE_ALL)), None)
    command = _command_of(found, cleaned)
    if isinstance(command, Ask):
        return Turn(command, command.question)
    if isinstance(command, Remind):
        return Turn(command, None)  # a new reminder supersedes the question it was sent instead of answering
    return Turn(command, live)


def _command_of(found: Command | Untimed | None, cleaned: str) -> Command:
    if isinstance(found, Untimed):
        return found.error or not_understood(cleaned)
    return not_understood(cleaned) if found is None else found


# --- Answers to the pending question --------------------------------------------------------------

def _answer(question: Question, message: Message) -> Turn | None:
    """Read ``message`` as the answer to ``question``; None when it is something else."""
    if question.kind == QuestionKind.DELETE_ALL:
        if message.plain in YES_WORDS:
            return Turn(DeleteAll(), None)
        if message.plain in NO_WORDS:
            return Turn(Error(wording.nothing_deleted()), None)
        return None
    if question.kind in (QuestionKind.WHICH_TIME, QuestionKind.WHICH_DAY) and question.options:
        if question.kind == QuestionKind.WHICH_DAY:
            command = _answer_which_day(question, message)
        else:
            command = _answer_which_time(question, message)
        if command is None:
            return None
        if isinstance(command, Ask):
            return Turn(command, command.question)
        # A reply that looks like an answer but picks nothing keeps the question open.
        keep = isinstance(command, Error) and command.error == _ask_again(question, message).error
        return Turn(command, question if keep else None)
    return None  # what_text: any text that is no command, found after the table has had its say


def _answer_which_time(question: Question, message: Message) -> Command | None:
    options = question.options
    plain = message.plain
    if plain in _ORDINALS:
        index = _ORDINALS[plain]
        return _chosen(options[index], message) if index < len(options) else _ask_again(question, message)
    if plain in _MORNING or plain in _EVENING:
        morning = plain in _MORNING
        picks = [option for option in options if (_local(option, message).hour < 12) == morning]
        return _chosen(picks[0], message) if len(picks) == 1 else _ask_again(question, message)
    reading = _time_only(message)
    if reading is None or reading.recurrence:
        return None
    same = [option for option in options if option.send_at == reading.send_at]
    if not same:
        wall = _local_clock(reading.send_at, message)
        same = [option for option in options if _local_clock(option.send_at, message) == wall]
    if len(same) == 1 and reading.ambiguous_with is None:
        return _chosen(same[0], message)
    if any(option.recurrence for option in options):
        return None
    # "6pm" instead of "am" or "pm": the time the sender means now, for the same reminder.
    return decide(options[0].to, reading, options[0].text, message.now, message.zone)


def _answer_which_day(question: Question, message: Message) -> Command | None:
    """Read the answer to "Did you mean Fri Dec 4 or Fri Dec 11?": a date, or a day's place in the list."""
    options = question.options
    days = list(dict.fromkeys(_local(option, message).date() for option in options))

    def on(day: date) -> tuple[Remind, ...]:
        return tuple(option for option in options if _local(option, message).date() == day)

    plain = message.plain
    if plain in _ORDINALS:
        index = _ORDINALS[plain]
        return _settle(on(days[index]), message) if index < len(days) else _ask_again(question, message)
    if plain in _MORNING or plain in _EVENING:
        return _ask_again(question, message)  # the day is still unsaid
    phrase = strip_noise(message.cleaned)
    reading = _time_only(message)
    if reading is None or reading.recurrence:
        return None
    same = [option for option in options if option.send_at == reading.send_at]
    if len(same) == 1 and reading.ambiguous_with is None:
        return _chosen(same[0], message)
    parts = named_parts(phrase, day_first(message.sender))
    if not parts.intersection(DAY_SLOTS):
        return _ask_again(question, message)  # "3pm": on which day, still
    if "clock" in parts or "part" in parts:
        # "dec 11 at 3" or "dec 5 at 4pm": the time the sender means now, asked about if it must be.
        return decide(options[0].to, reading, options[0].text, message.now, message.zone)
    chosen_day = on(_local_clock_date(reading.send_at, message))
    return _settle(chosen_day, message) if chosen_day else _ask_again(question, message)


def _settle(day: tuple[Remind, ...], message: Message) -> Command:
    """Take the one reading of the day picked, or ask "am" or "pm" between its two.

    A reading that has passed while the question waited is no choice: the other is the one left.
    """
    future = tuple(option for option in day if option.send_at > message.now)
    if len(future) <= 1:
        return _chosen((future or day)[0], message)  # none left: _chosen says the time has passed
    return ask_which_time(future, message.now, message.zone)


def _ask_again(question: Question, message: Message) -> Error:
    """Answer a reply that looks like an answer but picks none of the readings: the question again."""
    if question.kind == QuestionKind.WHICH_DAY:
        asked = ask_which_day(question.options, message.now, message.zone)
        if asked is not None:
            return Error(asked.reply)
    return Error(ask_which_time(question.options, message.now, message.zone).reply)


def _time_only(message: Message) -> Moment | None:
    """Read a message that is only a time ("5pm", "at 5 pm"); None otherwise."""
    phrase = strip_noise(message.cleaned)
    if not phrase or is_weak_run(phrase, asked=True):
        return None
    reading = read_phrase(phrase, message.now, message.zone, message.sender)
    return reading if isinstance(reading, Moment) else None


def _local(option: Remind, message: Message) -> datetime:
    return option.send_at.astimezone(ZoneInfo(message.zone))


def _local_clock_date(moment: datetime, message: Message) -> date:
    return moment.astimezone(ZoneInfo(message.zone)).date()


def _local_clock(moment: datetime, message: Message) -> tuple[int, int]:
    local = moment.astimezone(ZoneInfo(message.zone))
    return local.hour, local.minute


def _chosen(option: Remind, message: Message) -> Command:
    """Confirm the reading the sender picked, or ask for its text when it has none yet."""
    if option.send_at <= message.now:
        return Error("Sorry, that time has already passed. Please send the reminder again with a new time.")
    if not option.text:
        return ask_what_text(option, message.now)
    return option


def _answered_text(row: Row | None, found: Command | Untimed | None, message: Message) -> str:
    """Return the text a message gives a reminder that waits for one; "" when it is something else.

    Any text that is no command is the answer. One the reminder row reads is a new reminder (or
    its refusal) only when it names a clock time or a span ("call dad at 7pm", "in 2 hours"):
    "Call Mom about Sunday" answers "What should the reminder say?", and so does "dinner tonight"
    said after tonight's default hour, instead of being refused as past.
    """
    if isinstance(found, Untimed):
        return found.text if found.to == message.sender else ""
    if row is not None and row.command is not Remind:
        return ""  # a command, or a command's refusal
    if _NEW_TIME.search(message.key) is not None:
        return ""
    if isinstance(found, Error) and asks_for_reminder(message.cleaned):
        return ""  # "remind bob": a request gone wrong, whose refusal says why
    return strip_noise(message.cleaned) or message.cleaned


def _with_text(option: Remind, text: str, message: Message) -> Command:
    """Complete the reminder that waited for its text."""
    if option.send_at <= message.now:
        return Error("Sorry, that time has already passed. Please send the reminder again with a new time.")
    moment = Moment(option.send_at, message.zone, option.recurrence, option.anchor)
    return decide(option.to, moment, text, message.now, message.zone)


def _looks_like_answer(question: Question, message: Message, found: Command | Untimed | None) -> bool:
    """Say whether a message only makes sense as the answer to ``question`` (which has expired)."""
    if question.kind == QuestionKind.DELETE_ALL:
        return message.plain in YES_WORDS or message.plain in NO_WORDS
    if question.kind in (QuestionKind.WHICH_TIME, QuestionKind.WHICH_DAY):
        return (message.plain in _MORNING or message.plain in _EVENING or message.plain in _ORDINALS
                or _time_only(message) is not None)
    return isinstance(found, Untimed) and found.error is None
