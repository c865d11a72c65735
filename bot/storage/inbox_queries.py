"""The inbox table: every change of an inbox row, each one statement.

An inbound SMS is stored by its webhook (``add``: one INSERT, deduplicated on the message id and
the event id) and answered 200; it is handled later, off the request (``bot.conversation.inbox``):

    received ──claim──▶ handling ──finish──▶ done (outcome: handled, duplicate, ignored or failed)
        ▲                  │                     │
        └──release/retry───┘                     └──▶ deleted, INBOX_RETENTION_DAYS after handling

(a row whose lease ran out is claimed again, as a takeover)

Order per sender: a claim takes only rows of senders with no live claim, and every row of such a
sender it takes comes in arrival order (``id``), so one sender's messages are never handled by two
claimers at once nor out of order. Rows committed at the same moment by two webhooks for one sender
have no order of their own; the one committed first is handled first.

The functions take the open session; its transaction belongs to the caller and none commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Dialect, and_, bindparam, case, delete, exists, func, or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bot.storage.models import InboxMessage, InboxStatus
from bot.storage.precompiled import Precompiled, StatementConnection
from bot.storage.queries import dialect_module
from bot.timeutil import as_utc

_T = InboxMessage.__table__
_C = _T.c
_CLAIM_LOCK_ID = 727_110_016  # PostgreSQL advisory lock: one claim at a time (see claim_batch)


_ADD_COLUMNS = ("message_id", "event_id", "sender", "text", "received_at", "status", "attempts")


@lru_cache(maxsize=16)
def _add_statement(dialect: Dialect) -> Precompiled:
    # inline(): no RETURNING of the new id, which nobody reads.
    statement = dialect_module(dialect.name).insert(_T).values(
        {name: bindparam(name, type_=_C[name].type) for name in _ADD_COLUMNS}).on_conflict_do_nothing().inline()
    return Precompiled(statement, dialect)


def add(connection: StatementConnection, *, message_id: str, event_id: str | None, sender: str, text: str,
        received_at: datetime) -> bool:
    """Store an inbound SMS to handle later; False when its message id or event id is stored already.

    The webhook's whole cost is this statement, so it is compiled once (``bot.storage.precompiled``).
    """
    return _add_statement(connection.dialect).rowcount(connection, dict(
        message_id=message_id, event_id=event_id, sender=sender, text=text, received_at=received_at,
        status=InboxStatus.RECEIVED, attempts=0)) == 1


@dataclass(frozen=True)
class InboxClaim:
    """A claimed inbox row, detached from its session: the message and the claim on it."""

    id: int
    token: str
    message_id: str
    event_id: str | None
    sender: str
    text: str
    received_at: datetime
    attempts: int  # failed handlings so far, this claim's takeover included


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(_C.status == InboxStatus.RECEIVED, and_(_C.status == InboxStatus.HANDLING, _C.lease_until < now))


def _sender_busy(now: datetime):  # type: ignore[no-untyped-def]
    other = _T.alias("held")
    return exists().where(other.c.sender == _C.sender, other.c.status == InboxStatus.HANDLING,
                          other.c.lease_until >= now)


def has_claimable(session: Session, now: datetime) -> bool:
    """Say whether a claim now would find a row (a read: no lock, no write)."""
    return session.connection().execute(
        select(_C.id).where(_claimable(now), ~_sender_busy(now)).limit(1)).first() is not None


def claim_batch(session: Session, now: datetime, limit: int, lease: timedelta) -> list[InboxClaim]:
    """Claim up to ``limit`` rows, oldest first, of senders nobody else is handling, for one new token.

    Claims are serialised: on SQLite by its single writer, on PostgreSQL by a transaction-scoped
    advisory lock. ``FOR UPDATE SKIP LOCKED`` would not do: two claimers could each see a sender as
    free and take different rows of it (the second skips the first's locked row and takes the next,
    or sees a row the first one's snapshot did not), and handle them at once, out of order. A claim
    is one short statement, so waiting for the lock costs little. A row taken over after its lease
    ran out counts as a failed attempt: its claimer died or hung holding it.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sql_text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": _CLAIM_LOCK_ID})
    token = secrets.token_hex(8)
    candidates = (select(_C.id).where(_claimable(now), ~_sender_busy(now)).order_by(_C.id).limit(limit)
                  .scalar_subquery())
    taken_over = case((_C.status == InboxStatus.HANDLING, 1), else_=0)
    # The claimable condition again on the row itself: on PostgreSQL a row finished meanwhile by its
    # (expired) claimer is re-checked after that commit, and must not be claimed back from ``done``.
    statement = (update(_T).where(_C.id.in_(candidates), _claimable(now))
                 .values(status=InboxStatus.HANDLING, claim_token=token, lease_until=now + lease,
                         attempts=_C.attempts + taken_over)
                 .returning(_C.id, _C.message_id, _C.event_id, _C.sender, _C.text, _C.received_at, _C.attempts))
    rows = connection.execute(statement).all()
    claims = [InboxClaim(row.id, token, row.message_id, row.event_id, row.sender, row.text or "",
                         as_utc(row.received_at), row.attempts) for row in rows]
    return sorted(claims, key=lambda claim: claim.id)


_HELD = and_(_C.id == bindparam("claim_id"), _C.claim_token == bindparam("held_token"),
             _C.status == InboxStatus.HANDLING)
_FINISH = update(_T).where(_HELD).values(
    status=InboxStatus.DONE, text=None, claim_token=None, lease_until=None, handled_at=bindparam("new_handled_at"),
    outcome=bindparam("new_outcome"), command=bindparam("new_command"), attempts=bindparam("new_attempts"))


def finish(session: Session, claim: InboxClaim, outcome: str, command: str | None, now: datetime,
           attempts: int | None = None) -> bool:
    """Mark a claimed row done with its ``outcome`` (an InboxOutcome); False when the claim was lost meanwhile.

    Called in the transaction that handled the message, so the message is handled and marked
    done together or not at all.
    """
    return session.connection().execute(_FINISH, _finish_values(claim, outcome, command, now, attempts)).rowcount == 1


def finish_all(session: Session, finished: list[tuple[InboxClaim, str, str | None]], now: datetime) -> int:
    """Mark claimed rows done, each ``(claim, outcome, command)``, in one batch; return how many were still held.

    One round trip for a transaction's messages (psycopg sends an executemany as one pipeline)
    instead of one per message; a count short of ``len(finished)`` means a claim was lost meanwhile.
    """
    if not finished:
        return 0
    return session.connection().execute(_FINISH, [_finish_values(claim, outcome, command, now, None)
                                                  for claim, outcome, command in finished]).rowcount


def _finish_values(claim: InboxClaim, outcome: str, command: str | None, now: datetime,
                   attempts: int | None) -> dict[str, object]:
    return {"claim_id": claim.id, "held_token": claim.token, "new_handled_at": now, "new_outcome": outcome,
            "new_command": command, "new_attempts": claim.attempts if attempts is None else attempts}


def retry(session: Session, claim: InboxClaim, attempts: int) -> bool:
    """Put a claimed row whose handling failed back, with its count of failed attempts."""
    return session.connection().execute(
        update(_T).where(_HELD).values(status=InboxStatus.RECEIVED, claim_token=None, lease_until=None,
                                       attempts=attempts),
        {"claim_id": claim.id, "held_token": claim.token}).rowcount == 1


def release(session: Session, claims: list[InboxClaim]) -> None:
    """Put claimed rows not handled yet back to ``received``, for any instance to take at once."""
    for token in {claim.token for claim in claims}:
        ids = [claim.id for claim in claims if claim.token == token]
        session.connection().execute(
            update(_T).where(_C.id.in_(ids), _C.claim_token == token, _C.status == InboxStatus.HANDLING)
            .values(status=InboxStatus.RECEIVED, claim_token=None, lease_until=None))


def next_due(session: Session, now: datetime) -> datetime | None:
    """Return when a claim will next find work: now if it would, else when the first live lease runs out."""
    if has_claimable(session, now):
        return now
    value = session.connection().execute(
        select(func.min(_C.lease_until)).where(_C.status == InboxStatus.HANDLING)).scalar()
    return as_utc(value) if value is not None else None


def delete_done_before(session: Session, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` done rows handled before ``before``, oldest first; return how many went.

    A done row never changes again, so two instances deleting at once only skip each other's rows.
    """
    old = (select(_C.id).where(_C.status == InboxStatus.DONE, _C.handled_at < before).order_by(_C.id).limit(limit)
           .scalar_subquery())
    return session.connection().execute(delete(_T).where(_C.id.in_(old))).rowcount


def newest_id(session: Session) -> int | None:
    """Return the id of the newest inbox row (one index read), or None when the inbox is empty."""
    return session.connection().execute(select(func.max(_C.id))).scalar()


def count_waiting(session: Session) -> int:
    """Count the inbound messages not handled yet (received or being handled)."""
    return session.connection().execute(
        select(func.count()).select_from(_T)  # named, not "!= done": the index skips the done ones
        .where(_C.status.in_((InboxStatus.RECEIVED, InboxStatus.HANDLING)))).scalar() or 0


@dataclass(frozen=True)
class InboxRecord:
    """What became of one inbound message, by its message id."""

    status: InboxStatus
    outcome: str | None  # an InboxOutcome once done
    command: str | None


def find(session: Session, message_id: str) -> InboxRecord | None:
    """Return the inbox row of ``message_id`` (its status, outcome and command), or None."""
    row = session.connection().execute(
        select(_C.status, _C.outcome, _C.command).where(_C.message_id == message_id)).first()
    if row is None:
        return None
    return InboxRecord(InboxStatus(row.status), row.outcome, row.command)
