"""The commands a text message can carry: the parser's output shapes.

Each command is a small frozen value. ``to_json`` renders one as the JSON object
that ``python -m bot parse`` prints; the shapes are part of the public contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Union

MAX_TEXT_LENGTH = 1600  # Telnyx's limit for one (multi-part) message body.
MAX_DAYS_AHEAD = 365


@dataclass(frozen=True)
class Remind:
    """Send ``text`` to ``to`` at ``send_at`` (aware, in the sender's or named zone)."""

    to: str
    send_at: datetime
    text: str
    recurrence: str | None = None  # RFC 5545 RRULE without DTSTART, e.g. "FREQ=DAILY"
    # A repeating reminder's first occurrence as a naive wall time in send_at's zone, as asked
    # (02:30 on a spring-forward day, when send_at is 03:30): bot.series expands from it.
    anchor: datetime | None = None


@dataclass(frozen=True)
class ListReminders:
    """Show the sender's pending reminders."""


@dataclass(frozen=True)
class Cancel:
    """Cancel the sender's reminder with this (lowercase) id."""

    id: str


@dataclass(frozen=True)
class Help:
    """Send the help text."""


@dataclass(frozen=True)
class SetTimezone:
    """Read the sender's times in ``tz`` (an IANA name) from now on."""

    tz: str


@dataclass(frozen=True)
class Stop:
    """Opt out of every message from the bot (carrier STOP keywords)."""


@dataclass(frozen=True)
class Start:
    """Opt back in after a STOP."""


@dataclass(frozen=True)
class Yes:
    """Agree to the reminders someone asked to send (the reply to a consent request)."""


@dataclass(frozen=True)
class Snooze:
    """Send a reminder again at ``send_at``: the one that just arrived, or the sender's reminder ``id``."""

    send_at: datetime
    id: str | None = None


@dataclass(frozen=True)
class Move:
    """Reschedule the sender's reminder ``id`` ("move k3x9 to friday 5pm", "change k3x9 to 6pm")."""

    id: str
    send_at: datetime
    recurrence: str | None = None  # a new repeat rule when the new when-phrase repeats
    anchor: datetime | None = None


@dataclass(frozen=True)
class Edit:
    """Rewrite the text of the sender's reminder ``id`` ("edit k3x9: call dad")."""

    id: str
    text: str


@dataclass(frozen=True)
class Done:
    """Mark a reminder done: the one that just arrived, or the sender's reminder ``id``."""

    id: str | None = None


@dataclass(frozen=True)
class DeleteAll:
    """Delete every pending reminder the sender set; only after the sender said yes to the question."""


@dataclass(frozen=True)
class More:
    """Show the next page of the last ``list``."""


@dataclass(frozen=True)
class Web:
    """Send a one-time sign-in link to the web page ("web", "link"), or end every session ("web off")."""

    off: bool = False


@dataclass(frozen=True)
class Ignore:
    """Say nothing: thanks, ok, an emoji or a reaction. An SMS reply would only cost the sender."""


class QuestionKind(StrEnum):
    """What a stored question asks; the values are stored, so they never change."""

    WHICH_TIME = "which_time"
    WHICH_DAY = "which_day"
    WHAT_TEXT = "what_text"
    DELETE_ALL = "delete_all"


@dataclass(frozen=True)
class Question:
    """The one question the bot is waiting on from a number; stored between messages (bot.storage).

    ``kind`` (a QuestionKind value): "which_time" (readings that differ: the two halves of a day
    for a bare hour, or two to four ways to split a message, by number; ``options`` holds one Remind
    each, in the order the question names them), "which_day" (a phrase that names two days, each
    maybe at either half of the day: "next friday at 3" on a Thursday; answered with a date, a
    day's place in the list, then am or pm if still needed), "what_text" (a time with no text: ``options``
    holds one Remind whose text is empty), "delete_all" (confirm with yes; ``options`` empty).
    ``asked_at`` is when the question was asked; it expires QUESTION_TTL_SECONDS later.
    """

    kind: str
    asked_at: datetime
    options: tuple[Remind, ...] = ()


QUESTION_TTL_SECONDS = 30 * 60


@dataclass(frozen=True)
class Ask:
    """Ask ``question`` instead of guessing; ``reply`` is the question as the sender reads it."""

    question: Question
    reply: str


@dataclass(frozen=True)
class Error:
    """The message could not be understood; ``error`` is the reply the user gets."""

    error: str
    internal: bool = False  # the parser failed (a bug), not the message: logged and counted, not in JSON


Command = Union[Remind, ListReminders, Cancel, Help, SetTimezone, Stop, Start, Yes, Snooze, Move, Edit, Done,
                DeleteAll, More, Web, Ignore, Ask, Error]


@dataclass(frozen=True)
class Turn:
    """One step of a conversation: the command a message carries and the question pending after it.

    ``pending`` is the stored question to keep (the one asked now, or the one still open), or None
    to clear it. The parser is pure: the caller loads the question before and stores it after.
    """

    command: Command
    pending: Question | None = None


def command_name(command: Command) -> str:
    """Return the command's name as used in JSON and metrics ("remind", "list", ...)."""
    # The names live in the command table, which builds these commands and so imports this module.
    from bot.language.grammar import COMMAND_NAMES

    return COMMAND_NAMES[type(command)]


def _remind_json(command: Remind) -> dict[str, Any]:
    return {"to": command.to, "send_at": command.send_at.isoformat(), "text": command.text,
            "recurrence": command.recurrence,
            "anchor": command.anchor.isoformat() if command.anchor is not None else None}


def to_json(command: Command) -> dict[str, Any]:
    """Render a command as the JSON object ``python -m bot parse`` prints."""
    body: dict[str, Any] = {"command": command_name(command)}
    if isinstance(command, Remind):
        body.update(_remind_json(command))
    elif isinstance(command, Cancel):
        body["id"] = command.id
    elif isinstance(command, SetTimezone):
        body["tz"] = command.tz
    elif isinstance(command, Snooze):
        body["send_at"] = command.send_at.isoformat()
        if command.id is not None:  # "snooze" alone keeps its old shape
            body["id"] = command.id
    elif isinstance(command, Move):
        body.update(id=command.id, send_at=command.send_at.isoformat(), recurrence=command.recurrence,
                    anchor=command.anchor.isoformat() if command.anchor is not None else None)
    elif isinstance(command, Edit):
        body.update(id=command.id, text=command.text)
    elif isinstance(command, Done):
        body["id"] = command.id
    elif isinstance(command, Web):
        body["off"] = command.off
    elif isinstance(command, Ask):
        body.update(kind=str(command.question.kind), reply=command.reply,
                    options=[_remind_json(option) for option in command.question.options])
    elif isinstance(command, Error):
        body["error"] = command.error
    return body
