"""The command table: every command a text can carry, one row each (name, reader, help line).

Rows are tried top to bottom and the first reader that recognises the message wins, so commands
keep priority over reminders (the reminder row is last). A message no row reads gets the "didn't
understand" reply. Handlers (bot.conversation.handlers.HANDLERS) are keyed by a row's command type:
bot/language never imports bot.storage, so the handler cannot sit in the row itself, and a test
checks that every row has exactly one. The help SMS is built from the rows' help lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Union
from zoneinfo import ZoneInfo

from bot.language.commands import (MAX_TEXT_LENGTH, Ask, Cancel, Command, DeleteAll, Done, Edit, Error, Help,
                                   Ignore, ListReminders, More, Move, Question, QuestionKind, Remind, SetTimezone,
                                   Snooze, Start, Stop, Web, Yes)
from bot.language.keywords import (MAX_SHORT_MESSAGE, START_WORDS, STOP_WORDS, YES_WORDS, is_acknowledgement,
                                   is_opt_out_plain, is_small_talk, plain_of_cleaned, strip_noise)
from bot.language.sentence import (EXAMPLE, Untimed, describe_problem, read_explicit, read_sentence, shorten)
from bot.language.when import Moment, TimeProblem, add_elapsed, ceil_second, find_zone, parse_duration
from bot.language import wording

SNOOZE_DEFAULT_MINUTES = 10
HELP_WORDS = frozenset({"help", "?", "info", "commands"})
# "list", "show my reminders", "what are my reminders?", "my list", "whats on my list", as plain_words gives them.
_LIST = re.compile(r"(?:(?:please|pls|plz)\s+)?"
                   r"(?:(?:(?:show|see|view|list|check|get|send)(?:\s+me)?(?:\s+all)?(?:\s+of)?\s+)?"
                   r"(?:(?:my|the|all|all my)\s+)?(?:reminders|reminder list|list)"
                   r"|ls|what\s+(?:are|is)\s+my\s+reminders|whats\s+my\s+reminders|whats\s+on\s+my\s+list"
                   r"|what\s+is\s+on\s+my\s+list|what\s+reminders\s+do\s+i\s+have"
                   r"|(?:show\s+me\s+|tell\s+me\s+)?(?:whats|what\s+is)\s+coming\s+up)"
                   r"(?:\s+(?:please|pls|plz|thanks|thx))?")
MORE_WORDS = frozenset({"more", "next", "next page", "show more"})
WEB_WORDS = {"web": False, "link": False, "web link": False, "weblink": False, "web page": False,
             "web off": True, "link off": True}

_ID = re.compile(r"#?\s*([a-z0-9]{4,8})")
_ID_WORD = re.compile(r"(?P<hash>#\s*)?(?P<id>[a-z0-9]{4,8})(?![\w#])")
# "done with 4f7k", "done 4f7k cheers", "mark 4f7k as done", "mark it done".
_DONE = re.compile(r"(?:(?:done|finished)(?:\s+with)?|did it|i did it|completed)(?:\s+(?P<id>[a-z0-9]{4,8}))?"
                   r"(?:\s+(?:thanks|thank you|thx|ty|cheers))?"
                   r"|mark(?:\s+(?:it|that|this|(?P<marked>[a-z0-9]{4,8})))?(?:\s+as)?\s+(?:done|complete|completed)")
# Command words as they get mistyped; a bare "cancle" is not read (a bare "cancel" is an opt-out).
_COMMAND_TYPOS = {"snoze": "snooze", "snooz": "snooze", "delet": "delete", "cancle": "cancel",
                  "ammend": "edit", "amend": "edit", "edti": "edit"}
_DELETE_ALL = re.compile(r"(?:(?:please|pls|plz)\s+)?(?:delete|clear|remove|erase)\s+"
                         r"(?:all|everything|them all|all of them|every reminder|each reminder)"
                         r"(?:\s+(?:of\s+)?(?:my\s+)?reminders)?(?:\s+(?:please|pls|plz|thanks|thx))?")
# "snooze it 15 min", "snooze that": the reminder that just arrived, named without its id.
_SNOOZE_IT = re.compile(r"(?:it|that|this)(?:\s+|$)", re.IGNORECASE)
_SNOOZE_LEAD = re.compile(r"(?P<word>for|until|till|til|to)\s+", re.IGNORECASE)
_BARE_MINUTES = re.compile(r"[0-9]{1,3}")
_MOVE_WORDS = ("move", "change", "reschedule")
# What stands between "edit <id>" and the new text: "edit 4f7k: x", "edit 4f7k - x", "edit 4f7k to x",
# "edit 4f7k to say: x" (the words of saying frame the text; they are not part of it).
_EDIT_SEPARATORS = ":-,>=\u2013\u2014\u2192"  # "edit 4f7k -> x", "edit 4f7k → x" too
_EDIT_TO = re.compile(r"to(?:\s+(?:say|read)(?=[\s:,\-\u2013\u2014\"'\u201c\u2018]))?[\s:,\-\u2013\u2014]*\s",
                      re.IGNORECASE)
_VAGUE_REFERENCES = frozenset({"it", "that", "this", "reminder", "my"})


@dataclass(frozen=True)
class Message:
    """One inbound SMS as the readers see it."""

    cleaned: str  # control characters gone, trimmed; the sender's own case
    key: str  # lowercased, spaces collapsed, trailing "." and "!" dropped
    plain: str  # bot.language.keywords.plain_words for a short message, "" for a long one
    now: datetime  # an aware instant, in UTC
    zone: str
    sender: str

    @property
    def first(self) -> str:
        """Return the first word of ``key``."""
        return self.key.partition(" ")[0]

    @property
    def command_word(self) -> str:
        """Return the first word with a command's typo mended ("snoze 20"); a typo alone stays as typed."""
        return _COMMAND_TYPOS.get(self.first, self.first) if self.rest else self.first

    @property
    def rest(self) -> str:
        """Return ``key`` after its first word."""
        return self.key.partition(" ")[2]


def make_message(cleaned: str, now: datetime, zone: str, sender: str) -> Message:
    """Prepare a cleaned message for the readers."""
    key = " ".join(cleaned.lower().split()).rstrip(".!")
    plain = plain_of_cleaned(cleaned) if len(cleaned) <= MAX_SHORT_MESSAGE else ""
    return Message(cleaned, key, plain, now, zone, sender)


Reader = Callable[[Message], Union[Command, Untimed, None]]


@dataclass(frozen=True)
class Row:
    """One command: its name (JSON and metrics), type (handlers are keyed by it), reader and help line.

    ``read`` returns the command, an Error explaining why it could not, or None when the message
    is not this command. A row without a reader names a command other rows or answers produce.
    """

    name: str
    command: type
    read: Reader | None
    help: str = ""


# --- Readers ----------------------------------------------------------------------------------------

def read_stop(message: Message) -> Command | None:
    """Read a carrier opt-out keyword or a plain request to stop all messages."""
    return Stop() if message.key in STOP_WORDS or is_opt_out_plain(message.plain) else None


def read_start(message: Message) -> Command | None:
    """Read START."""
    return Start() if message.key in START_WORDS else None


def read_yes(message: Message) -> Command | None:
    """Read a YES to a consent request."""
    return Yes() if message.plain in YES_WORDS else None


def read_help(message: Message) -> Command | None:
    """Read a request for help."""
    return Help() if message.key in HELP_WORDS else None


def read_list(message: Message) -> Command | None:
    """Read "list" and the ways people ask for it ("show my reminders", "what are my reminders?")."""
    return ListReminders() if _LIST.fullmatch(message.plain) else None


def read_more(message: Message) -> Command | None:
    """Read "more": the next page of the list."""
    return More() if message.key in MORE_WORDS else None


def read_ignore(message: Message) -> Command | None:
    """Read thanks, ok, an emoji, a reaction or a goodbye: nothing to answer."""
    return Ignore() if is_acknowledgement(message.cleaned, message.plain) or is_small_talk(message.plain) else None


def _is_time(word: str, message: Message) -> bool:
    """Say whether a word alone reads as a time ("today", "10am"), so it is no reminder id."""
    reading = read_explicit(word, message.now, message.zone, message.sender)
    return not (isinstance(reading, TimeProblem) and reading.is_unreadable())


def read_done(message: Message) -> Command | None:
    """Read "done", "done <id>", "did it", "completed"."""
    match = _DONE.fullmatch(message.plain)
    if match is None:
        return None
    reminder_id = match["id"] or match["marked"]
    if reminder_id is not None and (reminder_id.isdigit() and "#" not in message.key or _is_time(reminder_id, message)):
        return None
    return Done(reminder_id)


def read_delete_all(message: Message) -> Command | None:
    """Read "delete all": ask for a yes first."""
    if _DELETE_ALL.fullmatch(message.plain) is None:
        return None
    return Ask(Question(QuestionKind.DELETE_ALL, message.now), "Delete all your pending reminders? Reply yes to confirm.")


def read_cancel(message: Message) -> Command | None:
    """Read "delete <id>" (or "cancel <id>", "remove <id>"); a longer sentence is left to the reminder row."""
    if message.command_word not in ("cancel", "delete", "remove"):
        return None
    rest = strip_noise(message.rest).strip()
    match = _ID.fullmatch(rest)
    if match:
        return Cancel(match.group(1))
    if not rest or rest == "#":
        return Error('Which reminder? Reply "delete <id>" with the id from your list, like "delete 4f7k". '
                     'Send "list" to see ids.')
    if len(rest.split()) > 1 and not rest.startswith("#"):
        return None  # "delete emails at 5pm" is a reminder
    hint = ' To delete every reminder, send "delete all".' if rest in ("all", "everything") else ""
    return Error(f'Sorry, "{shorten(rest)}" isn\'t a reminder id. Ids are 4-8 letters and digits, like '
                 f'"delete 4f7k". Send "list" to see them.{hint}')


def read_timezone(message: Message) -> Command | None:
    """Read "tz <zone>" or "timezone <zone>": an IANA name or a common alias."""
    if not (message.first in ("tz", "timezone") or message.key.startswith("time zone ")):
        return None
    words = message.cleaned.split(None, 2 if message.first == "time" else 1)
    name = words[-1].strip() if len(words) > (2 if message.first == "time" else 1) else ""
    if not name:
        return Error('Which time zone? Try "tz America/New_York" or "tz pacific".')
    zone = find_zone(name)
    if zone is None:
        return Error(f'Sorry, I don\'t know the time zone "{shorten(name)}". '
                     'Try "tz America/New_York" or "tz pacific".')
    return SetTimezone(zone)


def _unclear(moment: Moment, zone: str, example: str) -> Error:
    """Refuse a guessed hour in a command that cannot ask back: say both readings and how to pick."""
    assert moment.ambiguous_with is not None
    question = wording.which_time_question(moment.send_at, moment.ambiguous_with, zone)
    asked = question.split("?")[0] + "?"
    return Error(f'{asked} Please send it again with the exact time, like "{example}".')


def _check_new_time(reading: Moment | TimeProblem, message: Message, example: str,
                    allow_repeat: bool) -> Moment | Error:
    """Check the when-phrase of snooze or move; an Error explains what is wrong with it."""
    hint = f'Try "{example}".'
    if isinstance(reading, TimeProblem):
        return Error(describe_problem(reading, hint))
    if reading.recurrence and not allow_repeat:
        return Error(f"Sorry, a snooze can't repeat. {hint}")
    if reading.ambiguous_with is not None:
        return _unclear(reading, message.zone, example)
    return reading


def read_snooze(message: Message) -> Command | None:
    """Read "snooze", "snooze 5" (minutes), "snooze 30m", "snooze <id> for 1 hour", "snooze until 5pm"."""
    if message.command_word != "snooze":
        return None
    rest = message.cleaned[len(message.first):].strip()
    it = _SNOOZE_IT.match(rest)
    if it is not None:
        rest = rest[it.end():]
    if not rest:
        return Snooze(_in_minutes(message, SNOOZE_DEFAULT_MINUTES))
    # A "#" always marks an id ("snooze #12days 2h"); without one, all of it may be the time.
    whole = None if rest.startswith("#") else _read_snooze_time(rest, message)
    if whole is not None:
        return whole  # "snooze 45", "snooze until 5pm", "snooze tmrw": all of it is the time
    unreadable = Error(describe_problem(TimeProblem("unreadable", rest), 'Try "snooze 30m" or "snooze <id> 1h".'))
    word = _ID_WORD.match(rest.lower())
    if word is None or (word["id"].isdigit() and not word["hash"]):
        return unreadable
    after = rest[word.end():].strip()
    if not after:
        if word["hash"] or any(char.isdigit() for char in word["id"]):
            return Snooze(_in_minutes(message, SNOOZE_DEFAULT_MINUTES), word["id"])
        return unreadable  # "snooze blorp": a word, not an id
    moment = _read_snooze_time(after, message)
    if moment is None:
        return unreadable
    return moment if isinstance(moment, Error) else Snooze(moment.send_at, word["id"])


def _in_minutes(message: Message, minutes: int) -> datetime:
    now = ceil_second(message.now).astimezone(ZoneInfo(message.zone))
    return add_elapsed(now, minutes * 60)


def _read_snooze_time(rest: str, message: Message) -> Snooze | Error | None:
    """Read what follows "snooze" (or "snooze <id>"): a duration, minutes, or a time; None if it is none."""
    lead = _SNOOZE_LEAD.match(rest)
    phrase = rest[lead.end():] if lead else rest
    if _BARE_MINUTES.fullmatch(phrase) and (lead is None or lead["word"] == "for"):
        phrase += " minutes"  # "snooze 5": people mean minutes, not 5 o'clock
    duration = parse_duration(phrase)
    if duration is not None:
        if duration.months == 0 and duration.days == 0 and duration.seconds <= 0:
            return Error(f'Sorry, "{shorten(rest)}" is not a snooze time. Try "snooze 30m".')
        phrase = "in " + phrase
    reading = read_explicit(phrase, message.now, message.zone, message.sender)
    if isinstance(reading, TimeProblem) and reading.is_unreadable():
        return None
    moment = _check_new_time(reading, message, "snooze until 5pm", allow_repeat=False)
    return moment if isinstance(moment, Error) else Snooze(moment.send_at)


def read_move(message: Message) -> Command | None:
    """Read "move <id> to <when>" ("change", "reschedule"); a repeating when-phrase gives a new rule."""
    if message.first not in _MOVE_WORDS:
        return None
    after_word = message.cleaned[len(message.first):].strip()
    word = _ID_WORD.match(after_word.lower())
    if word is None:
        if not after_word or after_word.split()[0].lower() in _VAGUE_REFERENCES:
            return Error(f'Which reminder? Send "{message.first} <id> to <when>" with the id from your list, '
                         f'like "{message.first} 4f7k to 6pm".')
        return None
    rest = after_word[word.end():].strip()
    to = re.match(r"(?:to|for|until|till)\s+", rest, re.IGNORECASE)
    phrase = rest[to.end():] if to else rest
    clear_id = bool(word["hash"]) or any(c.isdigit() for c in word["id"])
    if not phrase:
        if clear_id:
            return Error(f'When to? Send "{message.first} {word["id"]} to friday 5pm".')
        return None
    if not clear_id and to is None:
        return None  # "change tires tomorrow" is a reminder; an id with no digit needs "to" or "#"
    reading = read_explicit(phrase, message.now, message.zone, message.sender)
    if isinstance(reading, TimeProblem) and reading.is_unreadable() and not clear_id:
        return None  # "change plans to go out at 5pm" is a reminder too
    moment = _check_new_time(reading, message, f"{message.first} {word['id']} to friday 5pm", allow_repeat=True)
    if isinstance(moment, Error):
        return moment
    return Move(word["id"], moment.send_at, moment.recurrence, moment.anchor if moment.recurrence else None)


def read_edit(message: Message) -> Command | None:
    """Read "edit <id>: <new text>" or "edit <id> <new text>" ("rename" too)."""
    if message.command_word not in ("edit", "rename"):
        return None
    after_word = message.cleaned[len(message.first):].strip()
    word = _ID_WORD.match(after_word.lower())
    if word is None:
        if not after_word or after_word.split()[0].lower() in _VAGUE_REFERENCES:
            return Error('Which reminder? Send "edit <id>: new text" with the id from your list, '
                         'like "edit 4f7k: call dad".')
        return None
    rest = after_word[word.end():]
    colon = rest.lstrip().startswith(":")
    text = rest.strip().lstrip(_EDIT_SEPARATORS).strip()
    to = None if colon else _EDIT_TO.match(text)  # after "edit <id>:" the text is the sender's own
    if to is not None:
        text = text[to.end():]
    if not (word["hash"] or colon or any(c.isdigit() for c in word["id"])):
        return None  # "edit photos at 5pm" is a reminder
    if not text:
        return Error(f'What should it say? Send "edit {word["id"]}: new text".')
    if len(text) > MAX_TEXT_LENGTH:
        return Error(f"Sorry, the reminder is too long ({len(text)} characters); "
                     f"the most I can send is {MAX_TEXT_LENGTH}.")
    return Edit(word["id"], text)


def read_web(message: Message) -> Command | None:
    """Read "web" or "link" (a sign-in link to the web page) and "web off" (end every session)."""
    off = WEB_WORDS.get(message.key)
    return None if off is None else Web(off=off)


def read_remind(message: Message) -> Command | Untimed | None:
    """Read a reminder in any order ("call mom at 5pm", "remind me tomorrow 9am: call mom")."""
    return read_sentence(message.cleaned, message.now, message.zone, message.sender)


REMIND_HELP = ("call mom at 5pm\n"
               "remind me in 20 min: stretch\n"
               "remind 212-555-0147 fri 5pm: dinner\n"
               "every weekday 8am: standup\n"
               "Times: in 2h, 9:30pm, noon, fri, dec 3, 3pm PST")
STOP_HELP = "Text STOP to opt out."

COMMANDS: tuple[Row, ...] = (
    Row("stop", Stop, read_stop, STOP_HELP),
    Row("start", Start, read_start),
    Row("yes", Yes, read_yes),
    Row("help", Help, read_help),
    Row("list", ListReminders, read_list, "list"),
    Row("more", More, read_more),
    Row("ignore", Ignore, read_ignore),
    Row("done", Done, read_done, "done"),
    Row("delete_all", DeleteAll, read_delete_all, "delete all"),
    Row("cancel", Cancel, read_cancel, "delete <id>"),
    Row("timezone", SetTimezone, read_timezone, "tz pacific"),
    Row("snooze", Snooze, read_snooze, "snooze 10"),
    Row("move", Move, read_move, "move <id> to 6pm"),
    Row("edit", Edit, read_edit, "edit <id>: text"),
    Row("web", Web, read_web, "web"),
    Row("remind", Remind, read_remind, REMIND_HELP),
    Row("ask", Ask, None),  # from the reminder and delete-all rows, and from answers
    Row("error", Error, None),  # any row's polite refusal, and the reply to what no row reads
)
COMMAND_NAMES: dict[type, str] = {row.command: row.name for row in COMMANDS}


def read_message(message: Message) -> Command | Untimed | None:
    """Return what the first row that recognises ``message`` reads; None when no row does."""
    return read_row(message)[1]


def read_row(message: Message) -> tuple[Row | None, Command | Untimed | None]:
    """Return the first row that recognises ``message`` and what it reads; (None, None) when no row does."""
    for row in COMMANDS:
        if row.read is not None:
            found = row.read(message)
            if found is not None:
                return row, found
    return None, None


def not_understood(cleaned: str) -> Error:
    """Answer a message no row reads."""
    return Error(f'Sorry, I didn\'t understand "{shorten(cleaned)}". Try {EXAMPLE}, "list" or "delete <id>".')


def help_text() -> str:
    """Build the help SMS from the rows: reminder examples, the other commands, then how to opt out."""
    lines = {row.command: row.help for row in COMMANDS}
    others = [row.help for row in COMMANDS if row.help and row.command not in (Remind, Stop)]
    return "\n".join(["Reminder bot. Try:", lines[Remind], "Also: " + ", ".join(others) + ".", lines[Stop]])
