"""Reading reminders and contacts, and writing contacts and inbound messages.

A reminder's state changes only in bot.storage.lifecycle. Every function takes the session it works in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import Insert, Row, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.storage.models import PENDING, Base, Contact, InboundMessage, Kind, Reminder, Status

_Model = TypeVar("_Model", bound=Base)


def dialect_module(dialect_name: str):  # type: ignore[no-untyped-def]
    """Return SQLAlchemy's dialect module whose ``insert`` knows ON CONFLICT (PostgreSQL or SQLite)."""
    return postgresql if dialect_name == "postgresql" else sqlite


@lru_cache(maxsize=None)
def _insert_ignoring_conflicts(dialect_name: str, table: Table, conflict_columns: tuple[str, ...]) -> Insert:
    dialect = dialect_module(dialect_name)
    # rowcount says whether the row went in; SQLAlchemy keeps it for INSERT only when asked to.
    return (dialect.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns) or None)
            .execution_options(preserve_rowcount=True))


def insert_ignoring_conflicts(session: Session, model: type[Base], row: dict[str, object],
                              conflict_columns: tuple[str, ...] = ()) -> bool:
    """INSERT ``row`` ... ON CONFLICT [(columns)] DO NOTHING; say whether the row went in.

    A Core statement built once, executed on the session's connection: the ORM's bulk-insert
    path cost three times as much per row (profiled on the webhook).
    """
    connection = session.connection()
    statement = _insert_ignoring_conflicts(connection.dialect.name, model.__table__, conflict_columns)
    return connection.execute(statement, row).rowcount == 1


def upsert(session: Session, model: type[Base], row: dict[str, object], changes: dict[str, object]) -> Insert:
    """Return INSERT ... ON CONFLICT (primary key) DO UPDATE SET ``changes``."""
    return dialect_module(session.get_bind().dialect.name).insert(model).values(**row).on_conflict_do_update(
        index_elements=list(model.__table__.primary_key.columns), set_=changes)


def find_by_idempotency_key(session: Session, key: str) -> Reminder | None:
    """Return the reminder created under an API Idempotency-Key, if any."""
    return session.scalars(select(Reminder).where(Reminder.idempotency_key == key)).first()


_R = Reminder.__table__.c


def pending_reminders(session: Session, number: str, limit: int) -> tuple[list[Row], int]:
    """Return the pending reminders visible to ``number``, soonest first (at most ``limit``), and their count.

    Rows of the columns a listing shows (``id, send_at, text, owner, recipient, source``), not ORM objects.
    Core reads on the session's connection do not flush pending ORM changes: call this before changing
    reminders through the ORM in the same transaction, as the handlers do.
    """
    # A number sees the reminders it set and those addressed to it (set by someone else or over
    # the API): the recipient can always see what is coming and cancel it.
    condition = (or_(_R.owner == number, _R.recipient == number), _R.kind == Kind.REMINDER,
                 _R.status.in_(PENDING))
    connection = session.connection()
    rows = list(connection.execute(select(_R.id, _R.send_at, _R.text, _R.owner, _R.recipient, _R.source)
                                   .where(*condition).order_by(_R.send_at).limit(limit)))
    if len(rows) < limit:  # the page holds them all: no need to count
        return rows, len(rows)
    total = connection.execute(select(func.count()).select_from(Reminder.__table__).where(*condition)).scalar()
    return rows, total or 0


def recently_sent(session: Session, owner: str, since: datetime, limit: int) -> list[Row]:
    """Return the owner's reminders last sent (or failed) since ``since``, newest first.

    Rows of ``id, recipient, status, delivery_status, error``.
    """
    return list(session.connection().execute(
        select(_R.id, _R.recipient, _R.status, _R.delivery_status, _R.error).where(
            _R.owner == owner, _R.kind == Kind.REMINDER,
            or_(_R.sent_at >= since, and_(_R.status == Status.FAILED, _R.created_at >= since)),
        ).order_by(_R.sent_at.desc()).limit(limit)
    ))


@dataclass(frozen=True)
class ContactState:
    """What the inbound path needs to know about a number: its zone and its consent."""

    number: str
    timezone: str | None = None
    opted_out_at: datetime | None = None
    refused_at: datetime | None = None


_C = Contact.__table__.c
_READ_CONTACT = select(_C.number, _C.timezone, _C.opted_out_at, _C.refused_at).where(_C.number == bindparam("number"))


def contact_state(session: Session, number: str) -> ContactState | None:
    """Return the stored contact for ``number``, or None for a number never seen."""
    row = session.connection().execute(_READ_CONTACT, {"number": number}).first()
    return ContactState(*row) if row is not None else None


def add_contact(session: Session, number: str) -> ContactState:
    """Create the contact for ``number`` (just looked up and not found); return the stored one."""
    row: dict[str, object] = dict(number=number, timezone=None, opted_out_at=None, introduced_at=None,
                                  refused_at=None, last_reminder_id=None)
    if insert_ignoring_conflicts(session, Contact, row):
        return ContactState(number)
    stored = contact_state(session, number)  # created meanwhile by another instance
    assert stored is not None
    return stored


def update_contact(session: Session, number: str, **values: object) -> None:
    """Change stored settings of an existing contact (``timezone``, ``opted_out_at``, ``refused_at``)."""
    session.connection().execute(update(Contact.__table__).where(_C.number == number).values(**values))


def add_inbound(session: Session, message_id: str, event_id: str | None, sender: str, received_at: datetime,
                command: str) -> bool:
    """Remember an inbound message; False when its message id or event id was stored before."""
    return insert_ignoring_conflicts(session, InboundMessage, dict(
        message_id=message_id, event_id=event_id, sender=sender, received_at=received_at, command=command))


def count_pending_and_created_since(session: Session, owner: str, since: datetime) -> tuple[int, int]:
    """Return ``(count_pending, count_created_since)`` for the owner's reminders in one query."""
    # Both counts read the same rows (the owner index); one statement instead of two per "remind".
    pending, created = session.execute(
        select(func.count().filter(Reminder.status.in_(PENDING)),
               func.count().filter(Reminder.created_at >= since))
        .where(Reminder.owner == owner, Reminder.kind == Kind.REMINDER)
    ).one()
    return pending or 0, created or 0


def other_recipients_since(session: Session, owner: str, since: datetime) -> set[str]:
    """Return the numbers other than the owner's that the owner set reminders for since ``since``."""
    return set(session.scalars(
        select(Reminder.recipient).distinct().where(
            Reminder.owner == owner, Reminder.kind == Kind.REMINDER, Reminder.recipient != owner,
            Reminder.created_at >= since,
        )
    ))


def recent_sent_to(session: Session, number: str, now: datetime, window: timedelta) -> Reminder | None:
    """Return the reminder most recently delivered to ``number`` within ``window``, for snooze."""
    contact = session.get(Contact, number)
    if contact is None or contact.last_reminder_id is None:
        return None
    reminder = session.get(Reminder, contact.last_reminder_id)
    if reminder is None or reminder.sent_at is None or now - reminder.sent_at > window:
        return None
    return reminder


def count_commands_since(session: Session, sender: str, command: str, since: datetime) -> int:
    """Count the sender's inbound messages that carried ``command`` since ``since``."""
    return session.scalar(
        select(func.count()).select_from(InboundMessage).where(
            InboundMessage.sender == sender, InboundMessage.command == command,
            InboundMessage.received_at >= since,
        )
    ) or 0
