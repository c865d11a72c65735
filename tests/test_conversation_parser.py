"""Issue 14: the parser with the conversation state in and out (``converse``), and the command table.

Dialogues run through the pure parser: each step hands the Turn's pending question to the next,
as bot.conversation.inbound does with the stored one. Questions are also built by hand, so the
answers are tested whatever the time phrases read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from bot.language.commands import (QUESTION_TTL_SECONDS, Ask, Command, DeleteAll, Error, Ignore, ListReminders,
                                   Question, QuestionKind, Remind, Turn, command_name, to_json)
from bot.language.grammar import COMMANDS, help_text
from bot.language.help_text import HELP_TEXT
from bot.language.parser import converse, parse, read_turn
from bot.language.segments import is_gsm7, segment_count
from bot.language.sentence import decide
from bot.language.when import Moment

ZONE = "America/New_York"
NY = ZoneInfo(ZONE)
ME = "+12125550147"
EVENING = datetime(2026, 11, 30, 20, 49, tzinfo=NY)  # Mon Nov 30, 8:49 PM: "at 5" is nearest at 5 AM
FIVE_AM = datetime(2026, 12, 1, 5, 0, tzinfo=NY)
FIVE_PM = datetime(2026, 12, 1, 17, 0, tzinfo=NY)
TTL = timedelta(seconds=QUESTION_TTL_SECONDS)


def talk(lines: list[str], now: datetime = EVENING, pending: Question | None = None) -> list[Turn]:
    """Send ``lines`` one after another, each with the question the one before left open."""
    turns = []
    for line in lines:
        turn = read_turn(line, now, ZONE, ME, pending)
        turns.append(turn)
        pending = turn.pending
    return turns


def which_time(asked_at: datetime = EVENING, text: str = "call mom") -> Question:
    return Question(QuestionKind.WHICH_TIME, asked_at.astimezone(timezone.utc),
                    (Remind(ME, FIVE_AM, text), Remind(ME, FIVE_PM, text)))


def what_text(asked_at: datetime = EVENING) -> Question:
    return Question(QuestionKind.WHAT_TEXT, asked_at.astimezone(timezone.utc),
                    (Remind(ME, datetime(2026, 12, 1, 9, 0, tzinfo=NY), ""),))


def delete_all(asked_at: datetime = EVENING) -> Question:
    return Question(QuestionKind.DELETE_ALL, asked_at.astimezone(timezone.utc))


# --- Dialogues through the time phrases --------------------------------------------------------------

def test_a_bare_hour_at_night_asks_and_pm_completes_the_reminder() -> None:
    asked, answered = talk(["remind me to call mom at 5", "pm"])
    assert isinstance(asked.command, Ask) and asked.command.question.kind == QuestionKind.WHICH_TIME
    assert asked.pending == asked.command.question
    assert [option.send_at for option in asked.pending.options] == [FIVE_AM, FIVE_PM]
    assert asked.command.reply == 'Did you mean 5:00 AM or 5:00 PM (Tue Dec 1)? Reply "am" or "pm".'
    assert answered == Turn(Remind(ME, FIVE_PM, "call mom"), None)


def test_a_time_without_text_asks_what_to_say_and_the_next_message_is_the_text() -> None:
    asked, answered = talk(["remind me tomorrow 9am", "Pay the Rent"])
    assert isinstance(asked.command, Ask) and asked.command.reply == "What should the reminder say?"
    assert answered == Turn(Remind(ME, datetime(2026, 12, 1, 9, 0, tzinfo=NY), "Pay the Rent"), None)


def test_a_bare_hour_without_text_asks_twice() -> None:
    turns = talk(["remind me at 5", "evening", "buy milk"])
    assert [turn.pending.kind if turn.pending else None for turn in turns] == ["which_time", "what_text", None]
    assert turns[-1].command == Remind(ME, FIVE_PM, "buy milk")


def test_list_between_question_and_answer_keeps_the_question() -> None:
    asked, listed, answered = talk(["call mom at 5", "list", "pm"])
    assert listed == Turn(ListReminders(), asked.pending)
    assert answered.command == Remind(ME, FIVE_PM, "call mom") and answered.pending is None


def test_a_new_question_replaces_the_old_one() -> None:
    first, second, answered = talk(["call mom at 5", "feed cat at 6", "am"])
    assert second.pending is not None and second.pending != first.pending
    assert answered.command == Remind(ME, datetime(2026, 12, 1, 6, 0, tzinfo=NY), "feed cat")


def test_a_new_reminder_instead_of_an_answer_clears_the_question() -> None:
    _, instead = talk(["call mom at 5", "call mom at 5pm"])
    assert instead == Turn(Remind(ME, FIVE_PM, "call mom"), None)


def test_an_answer_after_the_question_expired_is_refused_politely() -> None:
    asked = read_turn("call mom at 5", EVENING, ZONE, ME, None)
    late = read_turn("pm", EVENING + TTL + timedelta(seconds=1), ZONE, ME, asked.pending)
    assert isinstance(late.command, Error) and "send the reminder again" in late.command.error
    assert late.pending is None
    just_in_time = read_turn("pm", EVENING + TTL, ZONE, ME, asked.pending)
    assert just_in_time.command == Remind(ME, FIVE_PM, "call mom")


def test_delete_all_asks_then_yes_deletes() -> None:
    asked, answered = talk(["delete all", "yes"])
    assert asked.pending is not None and asked.pending.kind == QuestionKind.DELETE_ALL
    assert answered == Turn(DeleteAll(), None)


# --- Two ambiguities at once: which day, then am or pm --------------------------------------------------

THURSDAY = datetime(2026, 12, 3, 10, 0, tzinfo=NY)  # "next friday" said the day before: Dec 4 or Dec 11


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=NY)


def test_next_friday_at_3_on_a_thursday_asks_which_day() -> None:
    (asked,) = talk(["next friday at 3: call mom"], now=THURSDAY)
    assert isinstance(asked.command, Ask) and asked.pending == asked.command.question
    assert asked.command.question.kind == QuestionKind.WHICH_DAY
    assert asked.command.reply == 'Did you mean Fri Dec 4 or Fri Dec 11? Reply with the date, like "dec 4 at 3pm".'
    assert [option.send_at for option in asked.command.question.options] == [_at(4, 3), _at(4, 15), _at(11, 3),
                                                                             _at(11, 15)]
    assert segment_count(asked.command.reply) == 1


@pytest.mark.parametrize("answers, send_at", [
    (["dec 4 at 3pm"], _at(4, 15)),
    (["Dec 11, 3am"], _at(11, 3)),
    (["2", "pm"], _at(11, 15)),
    (["the first", "am"], _at(4, 3)),
    (["dec 11", "pm"], _at(11, 15)),
    (["dec 11 at 3", "afternoon"], _at(11, 15)),
    (["3pm", "dec 4 at 3pm"], _at(4, 15)),  # "3pm" leaves the day unsaid: asked again
    (["dec 5", "dec 11 3pm"], _at(11, 15)),  # a day not offered: asked again
], ids=["date-and-time", "date-and-am", "number-then-pm", "ordinal-then-am", "date-then-pm", "date-bare-hour-then-pm",
        "time-alone-then-date", "other-day-then-date"])
def test_which_day_answers(answers: list[str], send_at: datetime) -> None:
    turns = talk(["call mom next friday at 3", *answers], now=THURSDAY)
    assert [turn.command for turn in turns][-1] == Remind(ME, send_at, "call mom")
    assert turns[-1].pending is None
    for turn in turns[1:-1]:  # every step in between asks, and keeps a question open
        assert turn.pending is not None and isinstance(turn.command, (Ask, Error))


def test_a_day_whose_morning_passed_while_the_question_waited_is_its_evening() -> None:
    asked_at, answered_at = datetime(2026, 12, 4, 4, 50, tzinfo=NY), datetime(2026, 12, 4, 5, 10, tzinfo=NY)
    options = tuple(Remind(ME, _at(day, hour), "call mom") for day in (4, 11) for hour in (5, 17))
    question = Question(QuestionKind.WHICH_DAY, asked_at.astimezone(timezone.utc), options)
    # "1" picks Fri Dec 4, whose 5 AM passed ten minutes ago: 5 PM is the one reading left, not a question.
    answer = read_turn("1", answered_at, ZONE, ME, question)
    assert answer.command == Remind(ME, _at(4, 17), "call mom") and answer.pending is None


def test_a_which_day_answer_that_picks_no_day_repeats_the_question() -> None:
    asked, again = talk(["next friday at 3: call mom", "pm"], now=THURSDAY)
    assert again == Turn(Error(asked.command.reply), asked.pending)  # type: ignore[union-attr]


def test_which_day_without_text_asks_for_it_last() -> None:
    turns = talk(["remind me next friday at 3", "dec 4", "pm", "Call Mom"], now=THURSDAY)
    assert [turn.pending.kind if turn.pending else None for turn in turns] == ["which_day", "which_time", "what_text",
                                                                              None]
    assert turns[-1].command == Remind(ME, _at(4, 15), "Call Mom")


def test_midnight_on_a_next_day_asks_by_number_in_one_segment() -> None:
    (asked,) = talk(["next friday at midnight: x"], now=THURSDAY)
    assert isinstance(asked.command, Ask) and asked.command.question.kind == QuestionKind.WHICH_TIME
    assert [option.send_at for option in asked.command.question.options] == [_at(4, 0), _at(5, 0), _at(11, 0),
                                                                             _at(12, 0)]
    assert asked.command.reply.startswith("Did you mean 1) Fri Dec 4 at 12:00 AM, 2) Sat Dec 5 at 12:00 AM")
    assert segment_count(asked.command.reply) == 1


@pytest.mark.parametrize("text, fragment", [
    ("snooze until next friday at 3", 'could be Fri Dec 4 or Fri Dec 11. Please say the date and time, like "dec 4'),
    ("move k3x9 to next friday at 3", 'could be Fri Dec 4 or Fri Dec 11'),
    ("every friday at midnight: x", "could be the start or the end of that day"),
])
def test_commands_that_cannot_ask_back_say_which_days_a_phrase_could_be(text: str, fragment: str) -> None:
    command = parse(text, THURSDAY, ZONE, ME)
    assert isinstance(command, Error) and fragment in command.error, command
    assert "couldn't read" not in command.error


# --- "am" or "pm" only for one day's two halves; otherwise by number ------------------------------------

@pytest.mark.parametrize("text, now, reply", [
    ("call mom at 5", EVENING, 'Did you mean 5:00 AM or 5:00 PM (Tue Dec 1)? Reply "am" or "pm".'),
    ("9.30: call the bank", datetime(2026, 6, 10, 20, 0, tzinfo=NY),
     'Did you mean 1) Wed Jun 10 at 9:30 PM or 2) Wed Sep 30 at 9:00 AM? Reply "1" or "2".'),
    ("every day at 5: meds", datetime(2026, 6, 10, 15, 0, tzinfo=NY),
     'Did you mean 1) Wed Jun 10 at 5:00 PM or 2) Thu Jun 11 at 5:00 AM? Reply "1" or "2".'),
], ids=["bare-hour-am-pm", "dotted-time-or-date", "repeat-today-or-tomorrow"])
def test_the_question_offers_am_and_pm_only_for_one_days_two_halves(text: str, now: datetime, reply: str) -> None:
    command = parse(text, now, ZONE, ME)
    assert isinstance(command, Ask) and command.reply == reply


def test_a_repeat_in_a_dst_gap_keeps_the_other_readings_wall_time_as_its_anchor() -> None:
    # Sat Mar 7 2026, 1 PM: "every day at 2:30" is 2:30 PM today, or 2:30 AM from tomorrow, the
    # spring-forward day, where 02:30 does not exist (sent at 03:30) but the series stays at 02:30.
    asked, answered = talk(["every day at 2:30: meds", "2"], now=datetime(2026, 3, 7, 13, 0, tzinfo=NY))
    assert isinstance(asked.command, Ask)
    assert [option.anchor for option in asked.command.question.options] == [datetime(2026, 3, 7, 14, 30),
                                                                             datetime(2026, 3, 8, 2, 30)]
    assert isinstance(answered.command, Remind) and answered.command.anchor == datetime(2026, 3, 8, 2, 30)
    assert answered.command.send_at == datetime(2026, 3, 8, 3, 30, tzinfo=NY)


# --- The sender's country: holidays that differ ----------------------------------------------------------

@pytest.mark.parametrize("sender, zone, local", [
    ("+13105550123", "America/Los_Angeles", "2026-05-10T09:00"),  # US: second Sunday of May
    ("+447400123456", "Europe/London", "2027-03-07T09:00"),  # UK: Mothering Sunday (2026's, Mar 15, has passed)
], ids=["us", "uk"])
def test_mothers_day_is_the_senders_countrys(sender: str, zone: str, local: str) -> None:
    command = parse("mother's day: call mom", datetime(2026, 4, 20, 10, 0, tzinfo=ZoneInfo(zone)), zone, sender)
    assert isinstance(command, Remind) and command.text == "call mom"
    assert command.send_at.astimezone(ZoneInfo(zone)).isoformat()[:16] == local


@pytest.mark.parametrize("sender, local", [("+12125550147", "2026-11-26T09:00"), ("+14165550123", "2026-10-12T09:00")],
                         ids=["us-november", "canada-october"])
def test_thanksgiving_is_the_senders_countrys(sender: str, local: str) -> None:
    command = parse("dinner on thanksgiving", datetime(2026, 9, 1, 10, 0, tzinfo=NY), ZONE, sender)
    assert isinstance(command, Remind) and command.text == "dinner"
    assert command.send_at.astimezone(NY).isoformat()[:16] == local


# --- Answers, to questions built by hand ---------------------------------------------------------------

WHICH_TIME_ANSWERS = [
    ("pm", FIVE_PM), ("PM", FIVE_PM), ("p.m.", FIVE_PM), ("am", FIVE_AM), ("a.m.", FIVE_AM), ("5pm", FIVE_PM),
    ("5 pm", FIVE_PM), ("5am", FIVE_AM), ("at 5 pm", FIVE_PM), ("17:00", FIVE_PM), ("evening", FIVE_PM),
    ("tonight", FIVE_PM), ("afternoon", FIVE_PM), ("night", FIVE_PM), ("morning", FIVE_AM),
    ("in the morning", FIVE_AM), ("the first", FIVE_AM), ("1", FIVE_AM), ("2", FIVE_PM), ("second", FIVE_PM),
    ("pm please", FIVE_PM), ("6pm", datetime(2026, 12, 1, 18, 0, tzinfo=NY)),
]


@pytest.mark.parametrize("answer, send_at", WHICH_TIME_ANSWERS, ids=[row[0] for row in WHICH_TIME_ANSWERS])
def test_which_time_answers(answer: str, send_at: datetime) -> None:
    turn = read_turn(answer, EVENING + timedelta(minutes=5), ZONE, ME, which_time())
    assert turn == Turn(Remind(ME, send_at, "call mom"), None)


def test_an_answer_that_picks_nothing_asks_again_and_keeps_the_question() -> None:
    question = Question(QuestionKind.WHICH_TIME, EVENING.astimezone(timezone.utc),
                        (Remind(ME, FIVE_PM, "a"), Remind(ME, FIVE_PM + timedelta(hours=2), "b")))
    turn = read_turn("pm", EVENING, ZONE, ME, question)
    assert isinstance(turn.command, Error) and turn.command.error.startswith("Did you mean 1)")
    assert turn.pending == question


def test_a_picked_time_that_has_passed_is_not_confirmed() -> None:
    turn = read_turn("am", FIVE_AM + timedelta(minutes=1), ZONE, ME, which_time(asked_at=FIVE_AM - timedelta(minutes=5)))
    assert isinstance(turn.command, Error) and "passed" in turn.command.error and turn.pending is None


@pytest.mark.parametrize("answer", ["call dad", "Call Dad!", "remind me to call dad", "hello?"])
def test_what_text_takes_any_text_that_is_no_command(answer: str) -> None:
    turn = read_turn(answer, EVENING, ZONE, ME, what_text())
    assert isinstance(turn.command, Remind) and turn.pending is None
    assert turn.command.send_at == datetime(2026, 12, 1, 9, 0, tzinfo=NY)
    assert turn.command.text == answer.removeprefix("remind me to ")


@pytest.mark.parametrize("answer, expected", [("list", ListReminders()), ("thanks", Ignore()), ("ok", Ignore())])
def test_what_text_is_interrupted_by_a_command(answer: str, expected: Command) -> None:
    question = what_text()
    assert read_turn(answer, EVENING, ZONE, ME, question) == Turn(expected, question)


def test_delete_all_while_waiting_for_a_text_asks_about_deleting() -> None:
    turn = read_turn("delete all", EVENING, ZONE, ME, what_text())
    assert isinstance(turn.command, Ask) and turn.pending is not None and turn.pending.kind == QuestionKind.DELETE_ALL


@pytest.mark.parametrize("answer", ["Call Mom about Sunday", "dinner with Sam tomorrow", "call mom friday"])
def test_a_day_named_in_the_answer_is_part_of_the_text(answer: str) -> None:
    turn = read_turn(answer, EVENING, ZONE, ME, what_text())
    assert turn == Turn(Remind(ME, datetime(2026, 12, 1, 9, 0, tzinfo=NY), answer), None)


@pytest.mark.parametrize("answer", ["dinner tonight", "pick up dinner tonight please", "Call Mom this evening"])
def test_a_day_already_past_in_the_answer_is_part_of_the_text(answer: str) -> None:
    # At 9:30 PM "tonight" (8 PM) and "this evening" (6 PM) have passed; as the answer they are words, not times.
    late = datetime(2026, 11, 30, 21, 30, tzinfo=NY)
    turn = read_turn(answer, late, ZONE, ME, what_text(asked_at=late))
    assert turn == Turn(Remind(ME, datetime(2026, 12, 1, 9, 0, tzinfo=NY), answer.removesuffix(" please")), None)


@pytest.mark.parametrize("answer, fragment", [("dinner tonight at 7", "in the past"), ("remind bob", 'not "bob"')])
def test_a_new_time_or_request_in_the_answer_gets_its_own_reply(answer: str, fragment: str) -> None:
    late = datetime(2026, 11, 30, 21, 30, tzinfo=NY)
    turn = read_turn(answer, late, ZONE, ME, what_text(asked_at=late))
    assert isinstance(turn.command, Error) and fragment in turn.command.error


def test_a_clear_time_inside_the_text_still_asks_when_the_hour_is_unclear() -> None:
    (asked,) = talk(["call mom at 5:30 about the party"])
    assert isinstance(asked.command, Ask)
    assert [(option.send_at, option.text) for option in asked.command.question.options] == [
        (datetime(2026, 12, 1, 5, 30, tzinfo=NY), "call mom about the party"),
        (datetime(2026, 12, 1, 17, 30, tzinfo=NY), "call mom about the party")]


def test_what_text_answered_with_a_whole_reminder_is_that_reminder() -> None:
    turn = read_turn("call dad at 7pm", EVENING, ZONE, ME, what_text())
    assert turn == Turn(Remind(ME, datetime(2026, 11, 30, 19, 0, tzinfo=NY) + timedelta(days=1), "call dad"), None)


@pytest.mark.parametrize("answer, expected", [
    ("yes", DeleteAll()), ("Y", DeleteAll()), ("yep", DeleteAll()), ("YES!", DeleteAll()),
    ("no", Error("OK, nothing deleted.")), ("nope", Error("OK, nothing deleted.")),
])
def test_delete_all_answers(answer: str, expected: Command) -> None:
    assert read_turn(answer, EVENING, ZONE, ME, delete_all()) == Turn(expected, None)


def test_yes_without_a_delete_all_question_stays_the_consent_yes() -> None:
    assert to_json(read_turn("yes", EVENING, ZONE, ME, None).command) == {"command": "yes"}
    assert to_json(read_turn("yes", EVENING, ZONE, ME, which_time()).command) == {"command": "yes"}


def test_stop_always_wins_over_an_answer() -> None:
    for question in (which_time(), what_text(), delete_all()):
        turn = read_turn("stop", EVENING, ZONE, ME, question)
        assert to_json(turn.command) == {"command": "stop"}


@pytest.mark.parametrize("question, answer", [
    (which_time(), "pm"), (which_time(), "5pm"), (which_time(), "2"), (what_text(), "call dad"),
    (delete_all(), "yes"), (delete_all(), "no"),
], ids=["which-pm", "which-5pm", "which-2", "what-text", "delete-yes", "delete-no"])
def test_answers_after_expiry_say_so(question: Question, answer: str) -> None:
    turn = read_turn(answer, EVENING + TTL + timedelta(minutes=1), ZONE, ME, question)
    assert isinstance(turn.command, Error) and "stopped waiting" in turn.command.error
    assert turn.pending is None


def test_an_expired_question_lets_other_commands_through_and_is_dropped() -> None:
    turn = read_turn("list", EVENING + TTL + timedelta(minutes=1), ZONE, ME, which_time())
    assert turn == Turn(ListReminders(), None)


# --- Asking instead of guessing, given a reading ----------------------------------------------------

def test_a_reading_with_another_reading_asks_which_one() -> None:
    moment = Moment(FIVE_AM, ZONE, ambiguous_with=FIVE_PM)
    command = decide(ME, moment, "call mom", EVENING.astimezone(timezone.utc), ZONE)
    assert isinstance(command, Ask)
    assert command.question == Question(QuestionKind.WHICH_TIME, EVENING.astimezone(timezone.utc),
                                        (Remind(ME, FIVE_AM, "call mom"), Remind(ME, FIVE_PM, "call mom")))


def test_a_repeating_reading_asks_with_both_anchors() -> None:
    moment = Moment(FIVE_AM, ZONE, "FREQ=DAILY", FIVE_AM.replace(tzinfo=None), ambiguous_with=FIVE_PM)
    command = decide(ME, moment, "meds", EVENING, ZONE)
    assert isinstance(command, Ask)
    assert [option.anchor for option in command.question.options] == [datetime(2026, 12, 1, 5), datetime(2026, 12, 1, 17)]


def test_a_clear_reading_without_text_asks_for_the_text() -> None:
    command = decide(ME, Moment(FIVE_PM, ZONE), "  ", EVENING, ZONE)
    assert isinstance(command, Ask) and command.question.kind == QuestionKind.WHAT_TEXT
    assert command.question.options == (Remind(ME, FIVE_PM, ""),)


@pytest.mark.parametrize("zone", ["America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Paris",
                                  "Australia/Sydney"])
def test_the_which_time_question_names_both_times_in_the_senders_zone_in_one_segment(zone: str) -> None:
    moment = Moment(FIVE_AM, ZONE, ambiguous_with=FIVE_PM)
    reply = decide(ME, moment, "x", EVENING, zone).reply  # type: ignore[union-attr]
    first, second = (moment.astimezone(ZoneInfo(zone)) for moment in (FIVE_AM, FIVE_PM))
    assert f"{first.hour % 12 or 12}:00 {first:%p}" in reply and f"{second.hour % 12 or 12}:00 {second:%p}" in reply
    assert is_gsm7(reply) and segment_count(reply) == 1


def test_a_three_way_question_fits_one_segment() -> None:
    command = read_turn("read chapter 5 tomorrow", EVENING, ZONE, ME, None).command
    assert isinstance(command, Ask) and len(command.question.options) >= 2
    assert {option.text for option in command.question.options} == {"read chapter", "read chapter 5"}
    assert segment_count(command.reply) == 1


@pytest.mark.parametrize("text", ["snooze until 5", "snooze k3x9 until 5", "move k3x9 to 5", "change k3x9 to 5"])
def test_commands_that_cannot_ask_back_refuse_a_guessed_hour(text: str) -> None:
    command = parse(text, EVENING, ZONE, ME)
    assert isinstance(command, Error) and "5:00 AM or 5:00 PM" in command.error, command


# --- The command table ----------------------------------------------------------------------------------

def test_every_command_the_parser_returns_has_exactly_one_row() -> None:
    types = [row.command for row in COMMANDS]
    assert len(types) == len(set(types))
    assert set(types) == set(get_args(Command))
    names = [row.name for row in COMMANDS]
    assert len(names) == len(set(names))


def test_every_row_has_exactly_one_handler() -> None:
    from bot.conversation.handlers import HANDLERS

    assert set(HANDLERS) == {row.command for row in COMMANDS}


def test_names_come_from_the_table() -> None:
    for row in COMMANDS:
        sample = row.command(**{field.name: _sample(field.name) for field in fields(row.command)
                                if field.default is field.default_factory})  # type: ignore[misc]
        assert command_name(sample) == row.name == to_json(sample)["command"]


def _sample(name: str) -> object:
    return {"to": ME, "send_at": FIVE_PM, "text": "x", "id": "k3x9", "tz": ZONE, "error": "e",
            "question": delete_all(), "reply": "r"}[name]


def test_help_is_built_from_the_rows_and_fits_two_gsm7_segments() -> None:
    assert HELP_TEXT == help_text()
    for row in COMMANDS:
        assert row.help in HELP_TEXT
    assert is_gsm7(HELP_TEXT) and segment_count(HELP_TEXT) <= 2


OPT_OUT_STARTS = ('"cancel', '"stop', '"end', '"quit', '"unsubscribe', '"revoke')


@pytest.mark.parametrize("text", ["delete", "delete x", "cancel all", "move it", "move k3x9", "edit k3x9:", "snooze x",
                                  "hello", "remind me", "remind me to call mom", "call mom at 5", "delete all",
                                  "remind me blorp: x", "tz", "snooze every day"])
def test_no_reply_suggests_a_command_that_begins_with_an_opt_out_word(text: str) -> None:
    command = parse(text, EVENING, ZONE, ME)
    reply = getattr(command, "error", None) or getattr(command, "reply", "")
    assert reply and not any(start in reply.lower() for start in OPT_OUT_STARTS), reply


def test_parse_is_converse_without_a_question() -> None:
    for text in ["call mom at 5", "pm", "yes", "delete all", "list", "thanks"]:
        assert parse(text, EVENING, ZONE, ME) == converse(text, EVENING, ZONE, ME, None).command


def test_converse_keeps_the_question_when_it_fails_inside() -> None:
    question = which_time()
    turn = converse("pm", EVENING, "Not/AZone", ME, question)
    assert isinstance(turn.command, Error) and turn.command.internal and turn.pending == question


def test_the_cli_reads_lines_as_one_conversation() -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "parse", "--conversation", "--now", EVENING.isoformat(),
                             "--tz", ZONE], input="call mom at 5\nlist\npm\n", capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["command"], line["pending"]) for line in lines] == [
        ("ask", "which_time"), ("list", "which_time"), ("remind", None)]
    assert lines[2]["send_at"] == FIVE_PM.isoformat() and lines[2]["text"] == "call mom"


def test_the_language_package_stays_pure() -> None:
    code = ("import sys, bot.language.parser, bot.language.help_text; "
            "print(sorted(name for name in ('flask', 'bot.storage', 'sqlalchemy', 'dateparser') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                            cwd=Path(__file__).parent.parent)
    assert result.stdout.strip() == "[]"
