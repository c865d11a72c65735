"""The inbound pipeline shared by the webhook and the chat REPL.

One inbound SMS is handled in one transaction: remember its id (so a retried or
duplicated webhook does nothing), parse it with the question the number was
asked (stored, see bot.storage.queries.load_question), run its command, keep the
question still open, queue the reply (none for a thanks or an emoji).
The reply is sent by the dispatcher, so the webhook answers in milliseconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.storage import queries
from bot.language import wording
from bot.language.commands import Error, Question, Start, Stop, Turn, Yes, command_name
from bot.language.parser import converse
from bot.storage.db import SessionFactory
from bot.conversation.handlers import HandlerContext, dispatch
from bot.storage import lifecycle
from bot.storage.models import Kind, Source
from bot.phones import is_short_code_or_alphanumeric, mask_number, zone_for_number
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundSms:
    """An SMS someone sent to the bot's number, as the domain sees it."""

    message_id: str
    sender: str
    text: str
    event_id: str | None = None


@dataclass(frozen=True)
class InboundOutcome:
    """What became of an inbound SMS: handled, duplicate or ignored (and why)."""

    status: str
    command: str | None = None
    reply: str | None = None
    reason: str | None = None
    created: tuple[str, ...] = ()  # ids of the reminders it created
    parser_failed: bool = False  # the parser hit a bug and logged it; Bot.handle_sms counts it


def handle_inbound(message: InboundSms, *, session_factory: SessionFactory, settings: Settings,
                   now: datetime, session: Session | None = None) -> InboundOutcome:
    """Handle one inbound SMS exactly once and queue at most one reply.

    In a transaction of its own, or in ``session``'s open one (the inbox marks its row done in it).
    """
    if message.sender == settings.from_number or is_short_code_or_alphanumeric(message.sender):
        # Never answer ourselves, short codes or alphanumeric senders: no loops with other bots.
        return InboundOutcome("ignored", reason="sender is not a person's number")
    if session is not None:
        return _handle_in_transaction(session, message, settings, now)
    with session_factory() as session, session.begin():
        return _handle_in_transaction(session, message, settings, now)


def _handle_in_transaction(session: Session, message: InboundSms, settings: Settings,
                           now: datetime) -> InboundOutcome:
    # Parse before the first write so the inbound row goes in whole (one INSERT, no UPDATE of its
    # command afterwards); parsing is pure, so a duplicate only costs the parse.
    # The question this number was asked, if any: stored, so the answer may reach any instance.
    known, asked = queries.contact_and_question(session, message.sender)
    zone = (known.timezone if known else None) or zone_for_number(message.sender, settings.bot_timezone)
    turn = _converse_within_limits(message.text, now, zone, message.sender, asked, settings)
    command = turn.command
    outcome = _answer(session, message, turn, asked, known, zone, settings, now)
    # Counted for a retried webhook too: the parser failed (and logged) again.
    return replace(outcome, parser_failed=True) if isinstance(command, Error) and command.internal else outcome


def _answer(session: Session, message: InboundSms, turn: Turn, asked: Question | None,
            known: queries.ContactState | None, zone: str, settings: Settings, now: datetime) -> InboundOutcome:
    command = turn.command
    name = command_name(command)
    if not queries.add_inbound(session, message.message_id, message.event_id, message.sender, now, name):
        return InboundOutcome("duplicate")  # the same message or event again: a retried webhook
    contact = known or queries.add_contact(session, message.sender)

    if contact.opted_out_at is not None and not isinstance(command, Start):
        return InboundOutcome("ignored", command=name, reason="sender opted out")
    # Opt-out keywords work from any number, allowed or not: carriers require it. So does YES: a
    # recipient of someone's reminders answers a consent request without being a user.
    if (settings.allowed_senders and message.sender not in settings.allowed_senders
            and not isinstance(command, (Stop, Start, Yes))):
        return _refuse_outsider(session, contact, message.sender, now, name)

    context = HandlerContext(session, message.sender, contact, zone, now, settings, question=turn.pending)
    reply = dispatch(command, context)
    if context.question != asked:  # a handler may drop the question it was asked to keep (nothing to delete)
        queries.store_question(session, message.sender, context.question, now)
    log.info("inbound %s from %s: %s", message.message_id, mask_number(message.sender), name)
    if reply is None:  # thanks, ok, an emoji: an answer would only cost the sender a message
        return InboundOutcome("handled", command=name, created=tuple(context.created))
    lifecycle.schedule(session, recipient=message.sender, text=reply, send_at=now, now=now, owner=None,
                       zone=zone, kind=Kind.REPLY, source=Source.OPTOUT if isinstance(command, Stop) else Source.BOT)
    return InboundOutcome("handled", command=name, reply=reply, created=tuple(context.created))


def _converse_within_limits(text: str, now: datetime, zone: str, sender: str, asked: Question | None,
                            settings: Settings) -> Turn:
    if len(text) > settings.max_command_length:
        return Turn(Error(f"Sorry, that message is too long for me ({len(text)} characters). "
                          f"Keep commands under {settings.max_command_length} characters."), asked)
    return converse(text, now, zone, sender, asked)


def _refuse_outsider(session: Session, contact: queries.ContactState, sender: str, now: datetime,
                     command: str) -> InboundOutcome:
    # One polite refusal a day, then silence, so a stranger cannot make us text them at will.
    if contact.refused_at is not None and now - contact.refused_at < timedelta(days=1):
        return InboundOutcome("ignored", command=command, reason="sender not allowed")
    queries.update_contact(session, sender, refused_at=now)
    reply = wording.not_allowed()
    lifecycle.schedule(session, recipient=sender, text=reply, send_at=now, now=now, kind=Kind.REPLY,
                       source=Source.BOT)
    return InboundOutcome("handled", command=command, reply=reply, reason="sender not allowed")
