"""The operator's view of the queue: counts, sends per hour, failures, opt-outs, busiest senders, one number's rows.

Read-mostly: the one change is the retry of a failed reminder (bot.storage.lifecycle.retry_failed).
Numbers are masked (bot.phones.mask_number) everywhere but in the answer to a search for that
number. Every action is logged by the caller with who did it; the reads here never log numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select

from bot.phones import format_number, mask_number, normalize_number
from bot.storage import lifecycle, queries
from bot.storage.db import SessionFactory
from bot.storage.models import PENDING, Contact, Kind, Reminder, Status
from bot.timeutil import Clock, as_utc

log = logging.getLogger(__name__)

DUE_SOON = timedelta(minutes=15)
FAILURE_WINDOW = timedelta(days=1)
OPT_OUT_WINDOW = timedelta(days=7)
SENDER_WINDOW = timedelta(days=1)
HOURS_SHOWN = 24
LIST_LIMIT = 50
TOP_SENDERS = 10
TEXT_WIDTH = 40

_R = Reminder.__table__.c
_K = Contact.__table__.c


def _short(text: str) -> str:
    return text if len(text) <= TEXT_WIDTH else text[:TEXT_WIDTH - 3].rstrip() + "..."


def readable_reason(error: str | None) -> str:
    """Say why a message failed in words: "delivery delivery_failed (30003)" is the carrier's report."""
    if not error:
        return "unknown"
    report, is_delivery, rest = error.partition("delivery ")
    if is_delivery and not report:
        status, _, detail = rest.partition(" ")
        return f"carrier reported {status.replace('_', ' ')}" + (f" {detail}" if detail else "")
    return error


@dataclass(frozen=True)
class Failure:
    """A message that failed in the last day."""

    id: str
    kind: str
    recipient: str  # masked
    reason: str
    at: datetime  # its last attempt's due time (UTC)


@dataclass(frozen=True)
class Overview:
    """The console's front page."""

    pending: int  # reminders still to send
    due_soon: int  # messages of any kind due within DUE_SOON
    overdue: int  # scheduled messages whose time passed over a minute ago: the dispatcher is behind or stopped
    sends_per_hour: tuple[tuple[str, int], ...]  # ("14:00", 12), oldest first, UTC
    failures: tuple[Failure, ...]
    opted_out: int
    recent_opt_outs: tuple[tuple[str, datetime], ...]  # (masked number, when)
    top_senders: tuple[tuple[str, int], ...]  # (masked number or "API", reminders set in the last day)


@dataclass(frozen=True)
class Row:
    """One message of a searched number."""

    id: str
    kind: str
    status: str
    send_at: datetime
    direction: str
    text: str
    error: str | None
    retryable: bool


@dataclass(frozen=True)
class Found:
    """What the console knows of one number."""

    e164: str
    number: str  # formatted for reading
    timezone: str | None
    opted_out_at: datetime | None
    rows: tuple[Row, ...]


def _hour_expression(dialect: str):  # type: ignore[no-untyped-def]
    # Timestamps are stored as naive UTC; both render the hour as "YYYY-MM-DD HH".
    if dialect == "postgresql":
        return func.to_char(func.date_trunc("hour", _R.sent_at), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", _R.sent_at)


class OperatorConsole:
    """The operator console's reads and its one action."""

    def __init__(self, session_factory: SessionFactory, clock: Clock, wake: Callable[[], None] = lambda: None) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.wake = wake

    def overview(self) -> Overview:
        """Return the counts, the last day's sends per hour and failures, the opt-outs and the busiest senders."""
        now = self.clock()
        with self.session_factory() as session:
            connection = session.connection()

            def count(*where: object) -> int:
                return connection.execute(
                    select(func.count()).select_from(Reminder.__table__).where(*where)).scalar() or 0  # type: ignore[arg-type]

            pending = count(_R.kind == Kind.REMINDER, _R.status.in_(PENDING))
            due_soon = count(_R.status == Status.SCHEDULED, _R.due_at <= now + DUE_SOON)
            overdue = count(_R.status == Status.SCHEDULED, _R.due_at < now - timedelta(minutes=1))
            since = (now - timedelta(hours=HOURS_SHOWN - 1)).replace(minute=0, second=0, microsecond=0)
            hour = _hour_expression(connection.dialect.name).label("hour")
            per_hour = dict(connection.execute(select(hour, func.count()).where(_R.sent_at >= since)
                                               .group_by(hour)).all())
            failures = connection.execute(
                select(_R.id, _R.kind, _R.recipient, _R.error, _R.due_at)
                .where(_R.status == Status.FAILED, _R.due_at >= now - FAILURE_WINDOW)
                .order_by(_R.due_at.desc()).limit(LIST_LIMIT)).all()
            opted_out = connection.execute(select(func.count()).where(_K.opted_out_at.is_not(None))).scalar() or 0
            opt_outs = connection.execute(
                select(_K.number, _K.opted_out_at).where(_K.opted_out_at >= now - OPT_OUT_WINDOW)
                .order_by(_K.opted_out_at.desc()).limit(LIST_LIMIT)).all()
            set_count = func.count().label("set_count")
            senders = connection.execute(
                select(_R.owner, _R.source, set_count)
                .where(_R.kind == Kind.REMINDER, _R.created_at >= now - SENDER_WINDOW)
                .group_by(_R.owner, _R.source).order_by(set_count.desc()).limit(TOP_SENDERS)).all()
        hours = [since + timedelta(hours=step) for step in range(HOURS_SHOWN)]
        return Overview(
            pending, due_soon, overdue,
            tuple((f"{moment:%H}:00", per_hour.get(f"{moment:%Y-%m-%d %H}", 0)) for moment in hours),
            tuple(Failure(row.id, row.kind, mask_number(row.recipient), readable_reason(row.error), as_utc(row.due_at))
                  for row in failures),
            opted_out,
            tuple((mask_number(row.number), as_utc(row.opted_out_at)) for row in opt_outs),
            tuple((mask_number(row.owner) if row.owner else row.source.upper(), row.set_count) for row in senders),
        )

    def search(self, text: str) -> Found | None:
        """Return what is stored for a number (its settings and latest messages); None when it is not a number."""
        number = normalize_number(text.strip()[:40]) if text.strip() else None
        if number is None:
            return None
        with self.session_factory() as session:
            contact = queries.contact_state(session, number)
            rows = session.connection().execute(
                select(_R.id, _R.kind, _R.status, _R.send_at, _R.owner, _R.recipient, _R.text, _R.error)
                .where((_R.owner == number) | (_R.recipient == number))
                .order_by(_R.created_at.desc()).limit(LIST_LIMIT)).all()
        return Found(
            number, format_number(number), contact.timezone if contact else None, contact.opted_out_at if contact else None,
            tuple(Row(row.id, row.kind, row.status, as_utc(row.send_at), self._direction(row.owner, row.recipient, number),
                      _short(row.text), row.error, row.kind == Kind.REMINDER and row.status == Status.FAILED)
                  for row in rows))

    @staticmethod
    def _direction(owner: str | None, recipient: str, number: str) -> str:
        if recipient == number:
            return "to them" if owner in (None, number) else f"to them from {mask_number(owner)}"
        return f"from them to {mask_number(recipient)}"

    def retry(self, reminder_id: str) -> bool:
        """Send a failed reminder again now; False when it is not a failed reminder."""
        with self.session_factory() as session, session.begin():
            retried = lifecycle.retry_failed(session, reminder_id, self.clock())
        if retried:
            self.wake()
        return retried
