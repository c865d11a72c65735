"""The commands table: one handler per command, each returning the reply text (None: no reply at all).

A handler takes ``(command, ctx)`` and works inside the caller's transaction;
``dispatch`` picks the handler by the command's type. Bad input never raises:
the parser already turned it into an ``Error`` command, whose handler replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.orm import Session

from bot.storage import queries
from bot.language import wording
from bot.language.commands import (Ask, Cancel, Command, DeleteAll, Done, Edit, Error, Help, Ignore, ListReminders,
                                   More, Move, Question, QuestionKind, Remind, SetTimezone, Snooze, Start, Stop,
                                   Yes)
from bot.language.segments import MAX_SEGMENTS, segment_count
from bot.storage import lifecycle
from bot.conversation.web_link import Web, handle_web
from bot.storage.models import ConsentState, Kind, Source, Status
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
    # The question to keep after this message (the parser's Turn.pending); a handler may drop it.
    question: Question | None = None


def handle_remind(command: Remind, ctx: HandlerContext) -> str:
    refusal = (_opted_out_refusal(command, ctx) or too_long_refusal(command.text, command.to, ctx)
               or _limit_refusal(command, ctx))
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
                                ctx.zone, command.recurrence, command.anchor) + _ask_consent(command.to, ctx)


def _zone_of(moment: datetime, fallback: str) -> str:
    # Recurrences expand in the zone the phrase was read in, so "every day 8am PST" stays 8am PST.
    return moment.tzinfo.key if isinstance(moment.tzinfo, ZoneInfo) else fallback


def too_long_refusal(text: str, recipient: str, ctx: HandlerContext) -> str | None:
    """Refuse text that could not go out in MAX_SEGMENTS with its prefix, unless AUTO_CHUNK sends it in parts."""
    if ctx.settings.auto_chunk:
        return None
    # The longest prefix it gets; a late note is left out when it would not fit (bot.delivery.dispatcher).
    prefix = wording.reminder_prefix(ctx.sender, recipient, None, ctx.zone, introduce=recipient != ctx.sender)
    segments = segment_count(prefix + text)
    return wording.too_long_to_send(segments) if segments > MAX_SEGMENTS else None


def _limit_refusal(command: Remind, ctx: HandlerContext) -> str | None:
    settings, session, sender = ctx.settings, ctx.session, ctx.sender
    third_party = command.to != sender
    if third_party and not settings.allow_third_party:
        return wording.third_party_disabled()
    an_hour_ago = ctx.now - timedelta(hours=1)
    pending, created_last_hour = queries.count_pending_and_created_since(session, sender, an_hour_ago)
    if pending >= settings.max_pending_per_sender:
        return wording.limit_reached(f"you already have {settings.max_pending_per_sender} pending reminders",
                                     wording.make_room_hint())
    if created_last_hour >= settings.max_new_per_hour:
        return wording.limit_reached(f"you can set at most {settings.max_new_per_hour} reminders an hour")
    if third_party:
        others = queries.other_recipients_since(session, sender, ctx.now - timedelta(days=1))
        if command.to not in others and len(others) >= settings.max_recipients_per_day:
            return wording.limit_reached(
                f"you can send reminders to at most {settings.max_recipients_per_day} other numbers a day")
    return None


def handle_list(command: ListReminders, ctx: HandlerContext) -> str:
    return _list_page(ctx, offset=0)


def handle_more(command: More, ctx: HandlerContext) -> str:
    # 0: no list shown since the last reset, so "more" starts one.
    return _list_page(ctx, offset=queries.list_offset(ctx.session, ctx.sender))


def _list_page(ctx: HandlerContext, offset: int) -> str:
    """Show one page of the sender's list from ``offset`` (the last day's sends on the first); remember where it ends."""
    rows, total = queries.pending_reminders(ctx.session, ctx.sender, wording.LIST_PAGE_SIZE, offset)
    recent = []
    if offset == 0:
        recent = [wording.Delivery(r.id, r.recipient, r.status, r.delivery_status, r.error, r.text,
                                   r.done_at is not None and r.sent_at is not None and r.done_at >= r.sent_at)
                  for r in queries.recently_sent(ctx.session, ctx.sender, ctx.now - RECENT_WINDOW,
                                                 wording.RECENT_LIMIT)]
    page = wording.reminder_list(
        [wording.ListedReminder(r.id, r.send_at, r.text, r.owner, r.recipient, r.source, r.recurrence) for r in rows],
        ctx.sender, ctx.zone, total, offset, recent)
    queries.store_list_offset(ctx.session, ctx.sender, offset + page.shown, ctx.now)
    return page.text


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
    # Said now, while they are still listening: how many reminders to them will not go out.
    pending = queries.count_pending_to(ctx.session, ctx.sender)
    queries.update_contact(ctx.session, ctx.sender, opted_out_at=ctx.now)
    # Consent is known at once, not months later: every YES or request for this number is refused,
    # and whoever has reminders scheduled for it hears so now, once each.
    queries.refuse_consents(ctx.session, ctx.sender, ctx.now)
    lifecycle.tell_owners_of_opt_out(ctx.session, ctx.sender, ctx.now)
    return wording.opted_out(pending)


def handle_start(command: Start, ctx: HandlerContext) -> str:
    skipped: list[wording.Skipped] = []
    count = 0
    if ctx.contact.opted_out_at is not None:  # the reminders that fell due while they were opted out
        rows, count = queries.skipped_while_opted_out(ctx.session, ctx.sender, ctx.contact.opted_out_at, ctx.now,
                                                      wording.SKIPPED_SHOWN)
        skipped = [wording.Skipped(row.id, row.text) for row in rows]
    queries.update_contact(ctx.session, ctx.sender, opted_out_at=None)
    return wording.opted_in(skipped, count)


def handle_snooze(command: Snooze, ctx: HandlerContext) -> str:
    if command.id is not None:
        original = queries.visible_reminder(ctx.session, command.id, ctx.sender)
        if original is None or not _snoozable(original, ctx.now):
            return wording.unknown_reminder(command.id)
    else:
        original = queries.recent_sent_to(ctx.session, ctx.sender, ctx.now, SNOOZE_WINDOW)
        if original is None:
            return wording.nothing_to_snooze()
    if lifecycle.snooze(ctx.session, original.id, command.send_at, number=ctx.sender):
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


def _snoozable(reminder: Row, now: datetime) -> bool:
    """Say whether "snooze <id>" applies: a reminder still to come, or one sent within the snooze window."""
    if reminder.status in (Status.SCHEDULED, Status.SENDING):
        return True
    return reminder.sent_at is not None and now - reminder.sent_at <= SNOOZE_WINDOW


# --- managing what you set (issue 14) ----------------------------------------------------------

def handle_move(command: Move, ctx: HandlerContext) -> str:
    zone = _zone_of(command.send_at, ctx.zone)
    outcome = lifecycle.move(ctx.session, command.id, ctx.sender, command.send_at, zone,
                             recurrence=command.recurrence, anchor=command.anchor)
    if not outcome.changed:
        return _not_changed(command.id, outcome, "moved")
    return wording.moved(command.id, outcome.text or "", command.send_at, ctx.zone, outcome.recurrence,
                         outcome.series_anchor)


def handle_edit(command: Edit, ctx: HandlerContext) -> str:
    visible = queries.visible_reminder(ctx.session, command.id, ctx.sender)
    refusal = too_long_refusal(command.text, visible.recipient, ctx) if visible is not None else None
    if refusal:
        return refusal
    outcome = lifecycle.edit_text(ctx.session, command.id, ctx.sender, command.text)
    if not outcome.changed:
        return _not_changed(command.id, outcome, "changed")
    return wording.edited(command.id, command.text)


def _not_changed(reminder_id: str, outcome: lifecycle.ChangeOutcome, change: str) -> str:
    if outcome.status is None:  # unknown, or someone else's: the same answer, so ids cannot be probed
        return wording.unknown_reminder(reminder_id)
    return wording.not_changeable(reminder_id, outcome.status, change)


def handle_done(command: Done, ctx: HandlerContext) -> str:
    if command.id is None:
        reminder = queries.recent_sent_to(ctx.session, ctx.sender, ctx.now, SNOOZE_WINDOW)
        if reminder is None:
            return wording.nothing_to_mark_done()
        reminder_id, text, recurrence = reminder.id, reminder.text, reminder.recurrence
    else:
        found = queries.visible_reminder(ctx.session, command.id, ctx.sender)
        if found is None:
            return wording.unknown_reminder(command.id)
        reminder_id, text, recurrence = found.id, found.text, found.recurrence
    if not lifecycle.mark_done(ctx.session, reminder_id, ctx.sender, ctx.now):
        return wording.not_sent_yet(reminder_id)
    return wording.marked_done(reminder_id, text, repeats=recurrence is not None)


def handle_delete_all(command: DeleteAll, ctx: HandlerContext) -> str:
    return wording.deleted_all(lifecycle.cancel_all(ctx.session, ctx.sender, ctx.now))


def handle_ask(command: Ask, ctx: HandlerContext) -> str:
    # The question is already stored by the caller (ctx.question); only delete_all needs words of ours.
    if command.question.kind != QuestionKind.DELETE_ALL:
        return command.reply
    count = queries.count_scheduled_owned(ctx.session, ctx.sender)
    if count == 0:
        ctx.question = None  # nothing to confirm: no question stays open
        return wording.nothing_to_delete()
    return wording.delete_all_question(count)


def handle_ignore(command: Ignore, ctx: HandlerContext) -> None:
    return None


# --- consent: opt-outs known at set time, the recipient's YES ----------------------------

def _opted_out_refusal(command: Remind, ctx: HandlerContext) -> str | None:
    """Refuse, when it is set, a reminder for someone who opted out (not months later when it is due)."""
    if command.to == ctx.sender or not ctx.settings.allow_third_party:
        return None  # a sender who opted out is not heard at all; the third-party refusal comes next
    return wording.recipient_opted_out(command.to) if queries.opted_out(ctx.session, command.to) else None


def _ask_consent(recipient: str, ctx: HandlerContext) -> str:
    """Under THIRD_PARTY_CONSENT=ask, ask the recipient (once per sender) and return what the sender is told."""
    if recipient == ctx.sender or not ctx.settings.asks_recipient_consent:
        return ""
    state = queries.consent_state(ctx.session, ctx.sender, recipient)
    if state == ConsentState.GRANTED:
        return ""
    if state != ConsentState.REQUESTED and queries.request_consent(ctx.session, ctx.sender, recipient, ctx.now):
        lifecycle.schedule(ctx.session, recipient=recipient, text=wording.consent_request(ctx.sender,
                                                                                          ctx.settings.brand_name),
                           send_at=ctx.now, now=ctx.now, kind=Kind.NOTICE, source=Source.BOT)
        return wording.consent_pending(recipient, newly_asked=True)
    return wording.consent_pending(recipient, newly_asked=False)  # asked before (or just now, by another message)


def handle_yes(command: Yes, ctx: HandlerContext) -> str:
    # One YES answers every request standing for this number, whoever sent it: the request named
    # the sender, and a recipient asked by two people would not know which one a YES is for.
    senders = queries.grant_consents(ctx.session, ctx.sender, ctx.now)
    if not senders:
        return wording.nothing_to_agree_to()
    for sender in senders:
        lifecycle.schedule(ctx.session, recipient=sender, text=wording.consent_given_notice(ctx.sender),
                           send_at=ctx.now, now=ctx.now, kind=Kind.NOTICE, source=Source.BOT)
    return wording.consent_given(senders)


def handle_error(command: Error, ctx: HandlerContext) -> str:
    return command.error


# First match wins; every command type the parser can return has exactly one handler.
HANDLERS: dict[type, Callable[..., str | None]] = {
    Remind: handle_remind,
    ListReminders: handle_list,
    More: handle_more,
    Cancel: handle_cancel,
    DeleteAll: handle_delete_all,
    Move: handle_move,
    Edit: handle_edit,
    Done: handle_done,
    Help: handle_help,
    SetTimezone: handle_timezone,
    Stop: handle_stop,
    Start: handle_start,
    Yes: handle_yes,
    Snooze: handle_snooze,
    Ask: handle_ask,
    Ignore: handle_ignore,
    Web: handle_web,
    Error: handle_error,
}


def dispatch(command: Command, ctx: HandlerContext) -> str | None:
    """Run the handler for ``command`` and return the reply text, or None for no reply at all."""
    return HANDLERS[type(command)](command, ctx)
