"""Issue 14's conversations at the parser: converse() with the pending question in and out, no storage.

Each test plays a short exchange the way the inbound handler does: the question a turn leaves
pending is passed into the next one. The times are what the person meant, by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.language.commands import (QUESTION_TTL_SECONDS, Ask, DeleteAll, Error, Ignore, ListReminders, Question,
                                   Remind, Stop, Turn, Yes)
from bot.language.parser import converse

NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"
SENDER = "+12125550147"
SYDNEY_SENDER = "+61412345678"
EVENING = datetime(2026, 12, 1, 20, 49, tzinfo=ZoneInfo(NEW_YORK))  # Tue Dec 1, 8:49 PM
TTL = timedelta(seconds=QUESTION_TTL_SECONDS)


def say(text: str, at: datetime, pending: Question | None = None, zone: str = NEW_YORK,
        sender: str = SENDER) -> Turn:
    """Send one message with the question waiting on the sender."""
    return converse(text, at, zone, sender, pending)


def wall(moment: datetime, zone: str = NEW_YORK) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def ask(text: str, kind: str, at: datetime = EVENING, zone: str = NEW_YORK, sender: str = SENDER) -> Question:
    """Send a message that must be answered with a question of ``kind``; return the question to store."""
    turn = say(text, at, zone=zone, sender=sender)
    assert isinstance(turn.command, Ask), turn.command
    assert turn.pending == turn.command.question
    assert turn.pending.kind == kind
    return turn.pending


def assert_reminder(turn: Turn, local: str, text: str, zone: str = NEW_YORK, sender: str = SENDER) -> None:
    assert isinstance(turn.command, Remind), turn.command
    assert (wall(turn.command.send_at, zone), turn.command.text, turn.command.to) == (local, text, sender)
    assert turn.pending is None


# --- which time: "call mom at 5" texted at 8:49 PM --------------------------------------------------

def test_a_bare_hour_at_night_asks_am_or_pm_with_the_nearest_reading_first() -> None:
    turn = say("remind me to call mom at 5", EVENING)
    assert isinstance(turn.command, Ask)
    question = turn.command.question
    assert question.kind == "which_time"
    assert question.asked_at == EVENING
    assert [wall(option.send_at) for option in question.options] == ["2026-12-02T05:00", "2026-12-02T17:00"]
    assert {option.text for option in question.options} == {"call mom"}
    assert "AM" in turn.command.reply and "PM" in turn.command.reply


@pytest.mark.parametrize("answer", ["pm", "PM", "p.m.", "5pm", "5 pm", "5 PM", "evening", "afternoon", "tonight",
                                    "night", "2"])
def test_an_evening_answer_confirms_5_pm(answer: str) -> None:
    question = ask("remind me to call mom at 5", "which_time")
    assert_reminder(say(answer, EVENING + timedelta(minutes=1), question), "2026-12-02T17:00", "call mom")


@pytest.mark.parametrize("answer", ["am", "AM", "a.m.", "5am", "5 am", "morning", "the first", "1"])
def test_a_morning_answer_confirms_5_am(answer: str) -> None:
    question = ask("remind me to call mom at 5", "which_time")
    assert_reminder(say(answer, EVENING + timedelta(minutes=1), question), "2026-12-02T05:00", "call mom")


def test_an_early_morning_question_in_sydney_is_about_today() -> None:
    early = datetime(2026, 9, 8, 4, 20, tzinfo=ZoneInfo(SYDNEY))  # Tue 4:20 AM
    question = ask("call the plumber at 5", "which_time", early, SYDNEY, SYDNEY_SENDER)
    assert [wall(option.send_at, SYDNEY) for option in question.options] == ["2026-09-08T05:00", "2026-09-08T17:00"]
    turn = say("pm", early + timedelta(minutes=2), question, SYDNEY, SYDNEY_SENDER)
    assert_reminder(turn, "2026-09-08T17:00", "call the plumber", SYDNEY, SYDNEY_SENDER)


# --- expiry -------------------------------------------------------------------------------------------

def test_an_answer_at_the_last_second_of_the_question_is_taken() -> None:
    question = ask("remind me to call mom at 5", "which_time")
    assert_reminder(say("pm", EVENING + TTL, question), "2026-12-02T17:00", "call mom")


@pytest.mark.parametrize("answer", ["pm", "5pm", "evening", "am"])
def test_an_answer_after_the_question_expired_gets_a_polite_error(answer: str) -> None:
    question = ask("remind me to call mom at 5", "which_time")
    turn = say(answer, EVENING + TTL + timedelta(seconds=1), question)
    assert isinstance(turn.command, Error) and not turn.command.internal, turn.command
    assert turn.pending is None


def test_a_full_reminder_after_the_question_expired_is_confirmed() -> None:
    question = ask("remind me to call mom at 5", "which_time")
    turn = say("remind me tomorrow 9am: call dad", EVENING + timedelta(hours=2), question)
    assert_reminder(turn, "2026-12-02T09:00", "call dad")


def test_text_after_a_what_text_question_expired_is_not_a_reminder() -> None:
    question = ask("remind me tomorrow 9am", "what_text")
    turn = say("call mom", EVENING + TTL + timedelta(minutes=5), question)
    assert isinstance(turn.command, Error), turn.command
    assert turn.pending is None


def test_am_or_pm_with_no_question_at_all_is_not_a_reminder() -> None:
    turn = say("pm", EVENING)
    assert isinstance(turn.command, Error), turn.command
    assert turn.pending is None


# --- interrupted and replaced ---------------------------------------------------------------------------

def test_list_in_between_keeps_the_question_open() -> None:
    question = ask("remind me to call mom at 5", "which_time")
    turn = say("list", EVENING + timedelta(minutes=1), question)
    assert isinstance(turn.command, ListReminders)
    assert turn.pending == question
    assert_reminder(say("5pm", EVENING + timedelta(minutes=2), turn.pending), "2026-12-02T17:00", "call mom")


def test_thanks_in_between_says_nothing_and_keeps_the_question_open() -> None:
    question = ask("remind me to call mom at 5", "which_time")
    turn = say("thanks!", EVENING + timedelta(minutes=1), question)
    assert isinstance(turn.command, Ignore)
    assert turn.pending == question


def test_a_new_question_replaces_the_old_one() -> None:
    first = ask("remind me to call mom at 5", "which_time")
    turn = say("call dad at 6", EVENING + timedelta(minutes=1), first)
    assert isinstance(turn.command, Ask)
    assert turn.pending == turn.command.question != first
    assert [option.text for option in turn.pending.options] == ["call dad", "call dad"]
    assert_reminder(say("pm", EVENING + timedelta(minutes=2), turn.pending), "2026-12-02T18:00", "call dad")


def test_a_what_text_question_replaces_a_which_time_question() -> None:
    first = ask("remind me to call mom at 5", "which_time")
    turn = say("remind me tomorrow 9am", EVENING + timedelta(minutes=1), first)
    assert isinstance(turn.command, Ask) and turn.pending == turn.command.question
    assert turn.pending.kind == "what_text"
    assert_reminder(say("call the bank", EVENING + timedelta(minutes=2), turn.pending), "2026-12-02T09:00",
                    "call the bank")


def test_stop_while_a_question_is_open_is_still_an_opt_out() -> None:
    question = ask("remind me to call mom at 5", "which_time")
    assert isinstance(say("stop", EVENING + timedelta(minutes=1), question).command, Stop)


# --- what text: a time and nothing to say ---------------------------------------------------------------

def test_a_time_without_text_asks_what_to_say_and_the_next_message_is_the_text() -> None:
    question = ask("remind me tomorrow 9am", "what_text")
    assert [(wall(option.send_at), option.text) for option in question.options] == [("2026-12-02T09:00", "")]
    assert_reminder(say("Call Mom", EVENING + timedelta(minutes=1), question), "2026-12-02T09:00", "Call Mom")


def test_the_answer_to_what_to_say_is_the_text_even_when_it_names_a_day() -> None:
    # Asked "What should the reminder say?", the person answers with text; a day named in it is
    # part of the text, not a new time (reading it as "Call Mom" on Sunday confirms a wrong time).
    question = ask("remind me tomorrow 9am", "what_text")
    assert_reminder(say("Call Mom about Sunday", EVENING + timedelta(minutes=1), question), "2026-12-02T09:00",
                    "Call Mom about Sunday")


def test_remindme_with_only_a_span_asks_what_to_say() -> None:
    question = ask("RemindMe! 2 days", "what_text")
    assert_reminder(say("check this thread", EVENING + timedelta(minutes=3), question), "2026-12-03T20:49",
                    "check this thread")


def test_a_command_is_not_taken_as_the_text() -> None:
    question = ask("remind me tomorrow 9am", "what_text")
    turn = say("list", EVENING + timedelta(minutes=1), question)
    assert isinstance(turn.command, ListReminders)
    assert turn.pending == question
    assert_reminder(say("water the plants", EVENING + timedelta(minutes=2), turn.pending), "2026-12-02T09:00",
                    "water the plants")


# --- delete all: only after a yes -------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["yes", "YES", "y", "yep", "Yes."])
def test_yes_to_delete_all_deletes(answer: str) -> None:
    question = ask("delete all", "delete_all")
    assert question.options == ()
    turn = say(answer, EVENING + timedelta(minutes=1), question)
    assert isinstance(turn.command, DeleteAll), turn.command
    assert turn.pending is None


def test_no_to_delete_all_deletes_nothing() -> None:
    question = ask("delete all", "delete_all")
    turn = say("no", EVENING + timedelta(minutes=1), question)
    assert isinstance(turn.command, Error), turn.command
    assert "nothing deleted" in turn.command.error.lower()
    assert turn.pending is None


def test_yes_without_a_question_is_consent() -> None:
    turn = say("yes", EVENING)
    assert isinstance(turn.command, Yes)
    assert turn.pending is None


def test_yes_after_delete_all_expired_deletes_nothing_and_is_not_consent() -> None:
    question = ask("delete all", "delete_all")
    turn = say("yes", EVENING + TTL + timedelta(seconds=1), question)
    assert isinstance(turn.command, Error), turn.command
    assert turn.pending is None
