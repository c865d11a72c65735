"""Issue 14: reminders in any order, "remind me" optional, noise ignored, commands first, silence for thanks.

Every row reads one message at Wed Jun 10 2026, 10:30 AM in New York, through the pure parser
(read_command: a bug fails the test instead of becoming a polite Error).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bot.language.commands import Ask, Error, Ignore, Remind, to_json
from bot.language.parser import read_command

NOW = datetime.fromisoformat("2026-06-10T10:30:00-04:00")
ZONE = "America/New_York"
ME = "+12125550147"


def read(text: str, now: datetime = NOW, sender: str = ME) -> Any:
    return read_command(text, now, ZONE, sender)


def summary(command: Any) -> tuple:
    """A reminder as (send_at to the minute, text, rule, recipient); anything else as its JSON."""
    if isinstance(command, Remind):
        return ("remind", command.send_at.isoformat()[:16], command.text, command.recurrence, command.to)
    if isinstance(command, Ask):
        return ("ask", str(command.question.kind),
                [(option.send_at.isoformat()[:16], option.text) for option in command.question.options])
    return ("json", to_json(command))


def remind(when: str, text: str, rule: str | None = None, to: str = ME) -> tuple:
    return ("remind", f"2026-{when}", text, rule, to)


ANY_ORDER = [
    # text first, time first, with or without "remind me", "to", a colon, a comma or a dash
    ("text-then-time", "call mom at 5pm", remind("06-10T17:00", "call mom")),
    ("elapsed-then-text", "in 5 min drink water", remind("06-10T10:35", "drink water")),
    ("abbreviation-first", "tmrw 9am take out trash", remind("06-11T09:00", "take out trash")),
    ("repeat-colon", "every weekday at 8am: standup",
     remind("06-11T08:00", "standup", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")),
    ("remind-me-what-then-when", "remind me call mom at 5pm", remind("06-10T17:00", "call mom")),
    ("remind-me-when-then-what", "remind me 5pm call mom", remind("06-10T17:00", "call mom")),
    ("remind-me-day-time-what", "remind me tomorrow 9am call mom", remind("06-11T09:00", "call mom")),
    ("text-then-day-time", "call mom tomorrow 9am", remind("06-11T09:00", "call mom")),
    ("comma", "tomorrow at 9am, call mom", remind("06-11T09:00", "call mom")),
    ("remind-me-colon-first", "Remind me: call mom tomorrow at 9am", remind("06-11T09:00", "call mom")),
    ("pls-and-colon", "pls remind me tmrw at 9: call mom", remind("06-11T09:00", "call mom")),
    ("noise-both-ends", "hey can you remind me to call mom at 5pm please", remind("06-10T17:00", "call mom")),
    ("dont-forget", "don't forget to call mom tomorrow 9am", remind("06-11T09:00", "call mom")),
    ("dash", "remind me in 20 minutes - check oven", remind("06-10T10:50", "check oven")),
    ("about", "remind me about the meeting at 3pm", remind("06-10T15:00", "the meeting")),
    ("third-party-keeps-punctuation", "remind +1 646 555 0199 at 6pm: dinner?",
     remind("06-10T18:00", "dinner?", to="+16465550199")),
    ("number-in-text", "buy 12 eggs at 5pm", remind("06-10T17:00", "buy 12 eggs")),
    ("number-before-day", "take 2 pills tomorrow", remind("06-11T09:00", "take 2 pills")),
    ("case-kept", "Call MOM about the Lease at 5pm", remind("06-10T17:00", "Call MOM about the Lease")),
    ("time-split-around-text", "tomorrow call mom at 5pm", remind("06-11T17:00", "call mom")),
    ("remind-me-day-to-text-time", "remind me tomorrow to call mom at 5pm", remind("06-11T17:00", "call mom")),
    ("set-a-reminder-for", "set a reminder for 5pm: call mom", remind("06-10T17:00", "call mom")),
    ("reminder-colon", "reminder: call mom at 5pm", remind("06-10T17:00", "call mom")),
    ("please-inside", "at 5pm please call mom", remind("06-10T17:00", "call mom")),
    ("thanks-after-time", "call mom at 5pm thanks!", remind("06-10T17:00", "call mom")),
    ("say-thank-you-is-text", "remind me at 5pm to say thank you", remind("06-10T17:00", "say thank you")),
    ("question-mark", "can you remind me to call mom at 5pm?", remind("06-10T17:00", "call mom")),
    ("text-colon-time", "call mom: tomorrow 9am", remind("06-11T09:00", "call mom")),
    ("repeat-at-end", "take meds every day at 8am", remind("06-11T08:00", "take meds", "FREQ=DAILY")),
    ("repeat-split", "every day take meds at 8pm", remind("06-10T20:00", "take meds", "FREQ=DAILY")),
    ("weekday-full-name", "get some sun on saturday", remind("06-13T09:00", "get some sun")),
    ("march-with-day", "dentist march 3", ("remind", "2027-03-03T09:00", "dentist", None, ME)),
    ("colon-after-bare-hour", "remind me 5pm: x", remind("06-10T17:00", "x")),
    ("stop-at-the-store", "stop by the bank at 5pm", remind("06-10T17:00", "stop by the bank")),
    ("part-of-day-in-text", "Parents evening at 6pm", remind("06-10T18:00", "Parents evening")),
    ("part-of-day-in-text-with-day", "Parents evening tomorrow at 6pm", remind("06-11T18:00", "Parents evening")),
    ("night-in-text", "game night at 8pm", remind("06-10T20:00", "game night")),
    ("please-after-remind-me", "remind me please to send the invoice at 11am", remind("06-10T11:00", "send the invoice")),
    ("slack-slash", "/remind me to drink water in 30 minutes", remind("06-10T11:00", "drink water")),
    ("curly-dont-forget", "don\u2019t forget to call mom at 5pm", remind("06-10T17:00", "call mom")),
    ("question-after-can-you", "Hey, can you remind me tomorrow morning to call the dentist?",
     remind("06-11T09:00", "call the dentist")),
    ("remindme-bang", "RemindMe! 2 days", ("ask", "what_text", [("2026-06-12T10:30", "")])),
    ("time-only", "tomorrow 9am", ("ask", "what_text", [("2026-06-11T09:00", "")])),
    ("remind-me-time-only", "remind me tomorrow 9am", ("ask", "what_text", [("2026-06-11T09:00", "")])),
    # chat-bot habits: Discord's "!remind <span> <text>", Reddit's "RemindMe! <span> "<text>""
    ("discord-remind", "!remind 10m pizza", remind("06-10T10:40", "pizza")),
    ("discord-remindme", "!remindme 2h check the build", remind("06-10T12:30", "check the build")),
    ("reddit-quoted", 'RemindMe! 2 days "check this thread"', remind("06-12T10:30", "check this thread")),
    ("reddit-unquoted", "RemindMe! 3 hours check the oven", remind("06-10T13:30", "check the oven")),
    ("remind-day-first", "!remind tomorrow 9am pizza", remind("06-11T09:00", "pizza")),
    ("span-before-colon", "30 mins: tea", remind("06-10T11:00", "tea")),
    ("remind-me-span-before-colon", "remind me 1h30: tea", remind("06-10T12:00", "tea")),
    # one clear time inside the text: the time phrase (and an "at" before it) leaves the text
    ("middle-pm", "call mom at 5pm about the party", remind("06-10T17:00", "call mom about the party")),
    ("middle-colon-clock", "pick up the kids at 3:30pm from school",
     remind("06-10T15:30", "pick up the kids from school")),
    ("middle-day-and-time", "meet Sam tomorrow at 5pm for dinner", remind("06-11T17:00", "meet Sam for dinner")),
    ("middle-span", "call mom in 2 hours about the party", remind("06-10T12:30", "call mom about the party")),
    ("middle-keeps-a-later-at", "lunch with Sam at 12:30pm on Friday at the cafe",
     remind("06-12T12:30", "lunch with Sam at the cafe")),
    ("middle-number-in-text", "buy 2 tickets at 5pm for the show", remind("06-10T17:00", "buy 2 tickets for the show")),
    ("middle-repeat", "take meds every day at 8am with food",
     remind("06-11T08:00", "take meds with food", "FREQ=DAILY")),
    ("middle-named-time-kept", "prep for the 3pm call at 2pm today", remind("06-10T14:00", "prep for the 3pm call")),
    ("middle-colon-clock", "meeting at 2:30 in room 5", remind("06-10T14:30", "meeting in room 5")),
    # a day left in the text may be the time's day: ask, by number (never 5 PM today confirmed)
    ("day-left-in-text", "call mom tomorrow about it at 5pm",
     ("ask", "which_time",
      [("2026-06-10T17:00", "call mom tomorrow about it"), ("2026-06-11T17:00", "call mom about it")])),
    ("day-left-before-comma", "dentist on friday, leave at 3pm",
     ("ask", "which_time", [("2026-06-10T15:00", "dentist on friday, leave"), ("2026-06-12T15:00", "dentist leave")])),
    ("a-count-is-no-day", "pick up the 3 kids at 3:15pm", remind("06-10T15:15", "pick up the 3 kids")),
    ("today-in-text-changes-nothing", "call mom today about it at 5pm",
     remind("06-10T17:00", "call mom today about it")),
    # two splits give different times and neither is clearly meant: ask, by number
    ("two-times-ask", "in 2 hours check oven at 5pm",
     ("ask", "which_time", [("2026-06-10T12:30", "check oven at 5pm"), ("2026-06-10T17:00", "in 2 hours check oven")])),
]


@pytest.mark.parametrize("text, expected", [row[1:] for row in ANY_ORDER], ids=[row[0] for row in ANY_ORDER])
def test_any_order(text: str, expected: tuple) -> None:
    assert summary(read(text)) == expected


NOT_REMINDERS = [
    ("lone-number", "call 911"),
    ("sun-in-text", "get some sun"),
    ("sat-in-text", "I sat down"),
    ("wed-in-text", "we wed"),
    ("may-in-text", "going to get married in may"),
    ("march-alone", "join the march"),
    ("good-morning", "good morning"),
    ("no-time", "call mom"),
    ("ordinal-in-text", "finish the 3rd"),
    ("noise-only", "hey please"),
    ("hello", "hello"),
    # a time inside the text that is not clearly one, or two of them: no guess
    ("middle-bare-hour", "call mom at 5 about the party"),
    ("middle-day-alone", "call mom tomorrow about the party"),
    ("middle-time-names-a-thing", "the 4pm meeting notes need review"),
    ("middle-two-times", "email Bob at 3pm and call Sue at 5pm about it"),
    ("middle-and-a-day-elsewhere", "call mom at 5pm about the friday party plans"),
]


@pytest.mark.parametrize("text", [row[1] for row in NOT_REMINDERS], ids=[row[0] for row in NOT_REMINDERS])
def test_words_that_look_like_times_inside_text_are_not_times(text: str) -> None:
    command = read(text)
    assert isinstance(command, Error) and "didn't understand" in command.error, command


GOODBYES = ["good night", "see you at 5", "ok thanks, talk to you tomorrow", "bye, see you monday 9am", "ttyl"]


@pytest.mark.parametrize("text", GOODBYES)
def test_a_goodbye_that_names_a_time_gets_no_reply(text: str) -> None:
    assert isinstance(read(text), Ignore)
    assert isinstance(read(f"remind me at 5pm: {text}"), Remind)  # asked for, it is a reminder's text


COMMANDS_FIRST = [
    ("list", "list", {"command": "list"}),
    ("show-my-reminders", "show my reminders", {"command": "list"}),
    ("show-reminders", "Show reminders", {"command": "list"}),
    ("what-are-my-reminders", "what are my reminders?", {"command": "list"}),
    ("my-list", "my list", {"command": "list"}),
    ("whats-on-my-list", "What's on my list?", {"command": "list"}),
    ("help", "help", {"command": "help"}),
    ("delete-id", "delete k3x9", {"command": "cancel", "id": "k3x9"}),
    ("cancel-id-still-accepted", "cancel k3x9", {"command": "cancel", "id": "k3x9"}),
    ("remove-id", "remove #K3X9", {"command": "cancel", "id": "k3x9"}),
    ("bare-cancel-is-opt-out", "cancel", {"command": "stop"}),
    ("end-is-opt-out", "end", {"command": "stop"}),
    ("quit-is-opt-out", "quit", {"command": "stop"}),
    ("please-stop-texting-me", "Please stop texting me", {"command": "stop"}),
    ("ok-stop", "ok stop", {"command": "stop"}),
    ("yes", "yes", {"command": "yes"}),
    ("snooze-bare-number-is-minutes", "snooze 5", {"command": "snooze", "send_at": "2026-06-10T10:35:00-04:00"}),
    ("snooze-45", "snooze 45", {"command": "snooze", "send_at": "2026-06-10T11:15:00-04:00"}),
    ("snooze-for-5", "snooze for 5", {"command": "snooze", "send_at": "2026-06-10T10:35:00-04:00"}),
    ("snooze-id-1h", "snooze k3x9 1h", {"command": "snooze", "send_at": "2026-06-10T11:30:00-04:00", "id": "k3x9"}),
    ("snooze-id-for", "snooze k3x9 for 30 min",
     {"command": "snooze", "send_at": "2026-06-10T11:00:00-04:00", "id": "k3x9"}),
    ("snooze-id-until", "snooze k3x9 until 5pm",
     {"command": "snooze", "send_at": "2026-06-10T17:00:00-04:00", "id": "k3x9"}),
    ("snooze-hash-id", "snooze #abcdef", {"command": "snooze", "send_at": "2026-06-10T10:40:00-04:00", "id": "abcdef"}),
    ("snooze-letter-id-then-time", "snooze abcdef 2h",
     {"command": "snooze", "send_at": "2026-06-10T12:30:00-04:00", "id": "abcdef"}),
    ("snooze-until-is-no-id", "snooze until 5pm", {"command": "snooze", "send_at": "2026-06-10T17:00:00-04:00"}),
    ("snooze-tmrw-is-no-id", "snooze tmrw", {"command": "snooze", "send_at": "2026-06-11T09:00:00-04:00"}),
    ("snooze-a-month", "snooze 1 month", {"command": "snooze", "send_at": "2026-07-10T10:30:00-04:00"}),
    ("snooze-id-12-months", "snooze k3x9 12 months",
     {"command": "snooze", "send_at": "2027-06-10T10:30:00-04:00", "id": "k3x9"}),
    ("move-to", "move k3x9 to friday 5pm",
     {"command": "move", "id": "k3x9", "send_at": "2026-06-12T17:00:00-04:00", "recurrence": None, "anchor": None}),
    ("change-to", "change k3x9 to 6pm",
     {"command": "move", "id": "k3x9", "send_at": "2026-06-10T18:00:00-04:00", "recurrence": None, "anchor": None}),
    ("reschedule-to", "reschedule #k3x9 to tomorrow 8am",
     {"command": "move", "id": "k3x9", "send_at": "2026-06-11T08:00:00-04:00", "recurrence": None, "anchor": None}),
    ("move-without-to", "move k3x9 friday 5pm",
     {"command": "move", "id": "k3x9", "send_at": "2026-06-12T17:00:00-04:00", "recurrence": None, "anchor": None}),
    ("move-to-a-repeat", "move k3x9 to every day at 8am",
     {"command": "move", "id": "k3x9", "send_at": "2026-06-11T08:00:00-04:00", "recurrence": "FREQ=DAILY",
      "anchor": "2026-06-11T08:00:00"}),
    ("edit-colon", "edit k3x9: Call Dad", {"command": "edit", "id": "k3x9", "text": "Call Dad"}),
    ("edit-no-colon", "edit k3x9 call dad", {"command": "edit", "id": "k3x9", "text": "call dad"}),
    ("rename-to", "rename #abcdef to call dad", {"command": "edit", "id": "abcdef", "text": "call dad"}),
    ("done", "done", {"command": "done", "id": None}),
    ("done-punctuated", "Done!", {"command": "done", "id": None}),
    ("done-id", "done k3x9", {"command": "done", "id": "k3x9"}),
    ("did-it", "did it", {"command": "done", "id": None}),
    ("completed", "completed", {"command": "done", "id": None}),
    ("more", "more", {"command": "more"}),
    ("next", "next", {"command": "more"}),
    ("web", "web", {"command": "web", "off": False}),
    ("link", "link", {"command": "web", "off": False}),
    ("web-off", "web off", {"command": "web", "off": True}),
]


@pytest.mark.parametrize("text, expected", [row[1:] for row in COMMANDS_FIRST], ids=[row[0] for row in COMMANDS_FIRST])
def test_commands_keep_priority(text: str, expected: dict) -> None:
    assert to_json(read(text)) == expected


@pytest.mark.parametrize("text", ["delete all", "delete everything", "clear all", "Delete all my reminders"])
def test_delete_all_asks_first(text: str) -> None:
    command = read(text)
    assert isinstance(command, Ask) and command.question.kind == "delete_all" and "yes" in command.reply


SENTENCES_STARTING_LIKE_COMMANDS = [
    ("delete-emails", "delete emails at 5pm", remind("06-10T17:00", "delete emails")),
    ("change-tires", "change tires tomorrow", remind("06-11T09:00", "change tires")),
    ("move-car", "move the car at 5pm", remind("06-10T17:00", "move the car")),
    ("edit-photos", "edit photos at 5pm", remind("06-10T17:00", "edit photos")),
    ("next-friday", "next friday call mom", remind("06-12T09:00", "call mom")),
    ("done-by", "done with taxes by friday", remind("06-12T09:00", "done with taxes")),
]


@pytest.mark.parametrize("text, expected", [row[1:] for row in SENTENCES_STARTING_LIKE_COMMANDS],
                         ids=[row[0] for row in SENTENCES_STARTING_LIKE_COMMANDS])
def test_a_sentence_that_only_starts_like_a_command_is_a_reminder(text: str, expected: tuple) -> None:
    assert summary(read(text)) == expected


COMMAND_ERRORS = [
    ("delete-alone", "delete", 'delete <id>'),
    ("cancel-all-points-to-delete-all", "cancel all", '"delete all"'),
    ("move-it", "move it to 6pm", "Which reminder?"),
    ("move-id-no-time", "move k3x9", "When to?"),
    ("move-bad-time", "move k3x9 to blorp", '"blorp"'),
    ("edit-no-text", "edit k3x9:", "What should it say?"),
    ("snooze-blorp", "snooze blorp", '"blorp"'),
    ("snooze-repeat", "snooze every day", "can't repeat"),
    ("snooze-13-months", "snooze 13 months", "365 days"),
    ("snooze-0-months", "snooze 0 months", "not a snooze time"),
    ("remind-someone-by-name", "remind bob at 5pm", 'not "bob"'),
]


@pytest.mark.parametrize("text, fragment", [row[1:] for row in COMMAND_ERRORS], ids=[row[0] for row in COMMAND_ERRORS])
def test_command_mistakes_get_a_clear_reply(text: str, fragment: str) -> None:
    command = read(text)
    assert isinstance(command, Error) and fragment in command.error, command
    assert not command.error.lower().startswith(("cancel", "stop", "end", "quit"))


ACKNOWLEDGEMENTS = ["thanks", "thanks!", "Thank you", "thx", "ty", "ok", "OK.", "okay", "k", "kk", "cool", "great",
                    "got it", "\U0001f44d", "\U0001f44d\U0001f3fd", "\u2764\ufe0f", "!!", "...", "ok thanks",
                    "thanks \U0001f64f", 'Liked "call mom"', "Loved \u201ccall mom\u201d", 'Laughed at "call mom"',
                    'Emphasized "call mom"', 'Reacted \U0001f44d to "call mom"', "Liked an image",
                    # any order, any mix of thanks, ok and the words that go with them, as texted in the UK,
                    # Australia and France
                    "ta", "thanks very much", "lovely, thanks", "cheers mate", "ok ta", "merci", "ok merci",
                    "no worries", "sweet thanks", "Thanks so much!! \U0001f64f", "mate, cheers", "okkk", "all good ta",
                    "thank you so much for that"]


@pytest.mark.parametrize("text", ACKNOWLEDGEMENTS)
def test_acknowledgements_get_no_reply(text: str) -> None:
    assert to_json(read(text)) == {"command": "ignore"}


@pytest.mark.parametrize("text", ["you", "so", "a lot", "mate", "good morning", "no"])
def test_words_that_only_go_with_a_thanks_are_no_thanks_alone(text: str) -> None:
    assert to_json(read(text)) != {"command": "ignore"}


@pytest.mark.parametrize("text", ["kk " * 30 + "x", "ok " * 38 + "x", "haha " * 23 + "x",
                                  "thank you very much " * 5 + "x"])
@pytest.mark.timeout(10)
def test_a_long_almost_thanks_is_read_in_linear_time(text: str) -> None:
    # As a regex of overlapping alternatives ("kk" or "k+"), each of these took seconds to minutes.
    assert to_json(read(text)) != {"command": "ignore"}


@pytest.mark.parametrize("text", ["ok remind me at 5pm to call mom", "thanks, call mom at 5pm"])
def test_an_acknowledgement_with_a_reminder_is_the_reminder(text: str) -> None:
    assert summary(read(text)) == remind("06-10T17:00", "call mom")
