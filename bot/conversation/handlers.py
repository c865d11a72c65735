"""The commands table: one handler per command, each returning the reply text.

A handler takes ``(command, ctx)`` and works inside the caller's transaction;
``dispatch`` picks the handler by the command's type. Bad input never raises:
the parser already turned it into an ``Error`` command, whose handler replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.storage import queries
from bot.language import wording
from bot.language.commands import (Cancel, Command, Error, Help, ListReminders, Remind, SetTimezone, Snooze, Start,
                          Stop)
from bot.storage import lifecycle
from bot.storage.models import Kind, Source, Status
from bot.settings import Settings

SNOOZE_WINDOW = timedelta(hours=24)
RECENT_WINDOW = timedelta(hours=24)  # "list" also says how the last day's reminders fared
# Ids have 31 bits of entropy; capping cancels makes guessing someone's id by SMS hopeless.
MAX_CANCELS_PER_HOUR = 30


@dataclass
class HandlerContext:
    """What a handler may use: the open transaction, who is talking, and when."""

    session: Session
    sender: str
    contact: queries.ContactState
    zone: str
    now: datetime
    settings: Settings
    created: list[str] = field(default_factory=list)  # ids of reminders this message created


def handle_remind(command: Remind, ctx: HandlerContext) -> str:
    refusal = _limit_refusal(command, ctx)
    if refusal:
        return refusal
    reminder = lifecycle.schedule(
        ctx.session, owner=ctx.sender, recipient=command.to, text=command.text, send_at=command.send_at,
        now=ctx.now, zone=_zone_of(command.send_at, ctx.zone), recurrence=command.recurrence,
        anchor=command.anchor, kind=Kind.REMINDER, source=Source.SMS,
    )
    ctx.created.append(reminder.id)
    # Confirm in the sender's own zone even when the phrase named another ("3pm PST").
    return wording.confirmation(reminder.id, command.text, command.to, ctx.sender, command.send_at,
                                ctx.zone, command.recurrence, command.anchor)


def _zone_of(moment: datetime, fallback: str) -> str:
    # Recurrences expand in the zone the phrase was read in, so "every day 8am PST" stays 8am PST.
    return moment.tzinfo.key if isinstance(moment.tzinfo, ZoneInfo) else fallback


def _limit_refusal(command: Remind, ctx: HandlerContext) -> str | None:
    settings, session, sender = ctx.settings, ctx.session, ctx.sender
    third_party = command.to != sender
    if third_party and not settings.allow_third_party:
        return wording.third_party_disabled()
    an_hour_ago = ctx.now - timedelta(hours=1)
    pending, created_last_hour = queries.count_pending_and_created_since(session, sender, an_hour_ago)
    if pending >= settings.max_pending_per_sender:
        return wording.limit_reached(f"you already have {settings.max_pending_per_sender} pending reminders",
                                     'Text "list" to see them and "cancel <id>" to make room.')
    if created_last_hour >= settings.max_new_per_hour:
        return wording.limit_reached(f"you can set at most {settings.max_new_per_hour} reminders an hour")
    if third_party:
        others = queries.other_recipients_since(session, sender, ctx.now - timedelta(days=1))
        if command.to not in others and len(others) >= settings.max_recipients_per_day:
            return wording.limit_reached(
                f"you can send reminders to at most {settings.max_recipients_per_day} other numbers a day")
    return None


def handle_list(command: ListReminders, ctx: HandlerContext) -> str:
    rows, total = queries.pending_reminders(ctx.session, ctx.sender, wording.LIST_LIMIT)
    recent = queries.recently_sent(ctx.session, ctx.sender, ctx.now - RECENT_WINDOW, wording.RECENT_LIMIT)
    listing = wording.reminder_list([wording.ListedReminder(r.id, r.send_at, r.text, r.owner, r.recipient, r.source)
                                     for r in rows], ctx.sender, ctx.zone, total)
    return listing + wording.recent_deliveries(
        [wording.Delivery(r.id, r.recipient, r.status, r.delivery_status, r.error) for r in recent], ctx.sender)


def handle_cancel(command: Cancel, ctx: HandlerContext) -> str:
    if queries.count_commands_since(ctx.session, ctx.sender, "cancel", ctx.now - timedelta(hours=1)) > MAX_CANCELS_PER_HOUR:
        return wording.limit_reached(f"you can cancel at most {MAX_CANCELS_PER_HOUR} times an hour")
    outcome = lifecycle.cancel(ctx.session, command.id, ctx.now, number=ctx.sender)
    if outcome.cancelled:
        return wording.cancelled(command.id, outcome.text or "")
    if outcome.status == Status.SENDING:
        return wording.being_sent(command.id)
    return wording.unknown_reminder(command.id)


def handle_help(command: Help, ctx: HandlerContext) -> str:
    from bot.language.help_text import HELP_TEXT

    return HELP_TEXT


def handle_timezone(command: SetTimezone, ctx: HandlerContext) -> str:
    queries.update_contact(ctx.session, ctx.sender, timezone=command.tz)
    return wording.timezone_set(command.tz, ctx.now)


def handle_stop(command: Stop, ctx: HandlerContext) -> str:
    queries.update_contact(ctx.session, ctx.sender, opted_out_at=ctx.now)
    return wording.opted_out()


def handle_start(command: Start, ctx: HandlerContext) -> str:
    queries.update_contact(ctx.session, ctx.sender, opted_out_at=None)
    return wording.opted_in()


def handle_snooze(command: Snooze, ctx: HandlerContext) -> str:
    original = queries.recent_sent_to(ctx.session, ctx.sender, ctx.now, SNOOZE_WINDOW)
    if original is None:
        return wording.nothing_to_snooze()
    if lifecycle.snooze(ctx.session, original.id, command.send_at):
        # A one-off reminder moves (snoozing twice moves it again, it does not send it twice).
        reminder_id = original.id
    else:
        # A repeating reminder keeps its series; the snooze is a one-off copy, under the usual limits.
        refusal = _limit_refusal(Remind(ctx.sender, command.send_at, original.text), ctx)
        if refusal:
            return refusal
        reminder_id = lifecycle.schedule(
            ctx.session, owner=ctx.sender, recipient=ctx.sender, text=original.text,
            send_at=command.send_at, now=ctx.now, zone=ctx.zone).id
    return wording.snoozed(reminder_id, command.send_at, ctx.zone)


def handle_error(command: Error, ctx: HandlerContext) -> str:
    return command.error


# First match wins; every command type the parser can return has exactly one handler.
HANDLERS: dict[type, Callable[..., str]] = {
    Remind: handle_remind,
    ListReminders: handle_list,
    Cancel: handle_cancel,
    Help: handle_help,
    SetTimezone: handle_timezone,
    Stop: handle_stop,
    Start: handle_start,
    Snooze: handle_snooze,
    Error: handle_error,
}


def dispatch(command: Command, ctx: HandlerContext) -> str:
    """Run the handler for ``command`` and return the reply text."""
    return HANDLERS[type(command)](command, ctx)
