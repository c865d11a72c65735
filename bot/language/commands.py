"""The commands a text message can carry: the parser's output shapes.

Each command is a small frozen value. ``to_json`` renders one as the JSON object
that ``python -m bot parse`` prints; the shapes are part of the public contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
    """Send the reminder that just arrived again at ``send_at``."""

    send_at: datetime


@dataclass(frozen=True)
class Error:
    """The message could not be understood; ``error`` is the reply the user gets."""

    error: str
    internal: bool = False  # the parser failed (a bug), not the message: logged and counted, not in JSON


Command = Union[Remind, ListReminders, Cancel, Help, SetTimezone, Stop, Start, Yes, Snooze, Error]

_NAMES = {
    Remind: "remind",
    ListReminders: "list",
    Cancel: "cancel",
    Help: "help",
    SetTimezone: "timezone",
    Stop: "stop",
    Start: "start",
    Yes: "yes",
    Snooze: "snooze",
    Error: "error",
}


def command_name(command: Command) -> str:
    """Return the command's name as used in JSON and metrics ("remind", "list", ...)."""
    return _NAMES[type(command)]


def to_json(command: Command) -> dict[str, Any]:
    """Render a command as the JSON object ``python -m bot parse`` prints."""
    body: dict[str, Any] = {"command": command_name(command)}
    if isinstance(command, Remind):
        body.update(
            to=command.to,
            send_at=command.send_at.isoformat(),
            text=command.text,
            recurrence=command.recurrence,
            anchor=command.anchor.isoformat() if command.anchor is not None else None,
        )
    elif isinstance(command, Cancel):
        body["id"] = command.id
    elif isinstance(command, SetTimezone):
        body["tz"] = command.tz
    elif isinstance(command, Snooze):
        body["send_at"] = command.send_at.isoformat()
    elif isinstance(command, Error):
        body["error"] = command.error
    return body
