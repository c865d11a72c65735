"""Delivery: claim due rows atomically, send them, record the outcome.

The reminders table is the queue. A claim flips due rows to ``sending`` with a
claim token and a lease in one conditional UPDATE (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so any number of dispatchers on one database never claim the same
row; a row whose lease ran out (its claimer died) is claimed again. Sends run on
a bounded thread pool under an outbound rate limit, and failures are retried with
exponential backoff and jitter, honouring Retry-After.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot import store, wording
from bot.db import SessionFactory
from bot.models import Contact, Kind, Reminder, Status
from bot.occurrences import next_occurrence
from bot.phones import mask_number
from bot.ratelimit import TokenBucket
from bot.settings import Settings
from bot.timeutil import Clock, as_utc, utc_now
from bot.transport import SendError, Transport

log = logging.getLogger(__name__)

_MAX_BATCHES_PER_TICK = 50  # bounds one tick; the next tick carries on


@dataclass(frozen=True)
class Claim:
    """A claimed row, detached from its session."""

    id: str
    token: str
    kind: str
    source: str
    owner: str | None
    recipient: str
    text: str
    zone: str
    recurrence: str | None
    send_at: datetime
    occurrence: int
    attempts: int


def _due_condition(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(Reminder.status == Status.SCHEDULED, Reminder.due_at <= now),
        and_(Reminder.status == Status.SENDING, Reminder.lease_until < now),
    )


def claim_due(session_factory: SessionFactory, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
    """Atomically claim up to ``limit`` due rows (or rows whose lease expired)."""
    token = secrets.token_hex(8)
    candidates = select(Reminder.id).where(_due_condition(now)).order_by(Reminder.due_at).limit(limit)
    returned = (Reminder.id, Reminder.kind, Reminder.source, Reminder.owner, Reminder.recipient, Reminder.text,
                Reminder.zone, Reminder.recurrence, Reminder.send_at, Reminder.occurrence, Reminder.attempts)
    with session_factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            # Lock the candidates first and update exactly those: inside "UPDATE ... WHERE id IN
            # (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)" PostgreSQL may run the subquery more than
            # once and claim far more than ``limit`` rows.
            ids = list(session.scalars(candidates.with_for_update(skip_locked=True)))
            if not ids:
                return []
            chosen = Reminder.id.in_(ids)
        else:
            # SQLite: one statement, so the read and the write happen under one write lock.
            chosen = Reminder.id.in_(candidates.scalar_subquery())
        claim = (update(Reminder).where(chosen, _due_condition(now))
                 .values(status=Status.SENDING, claim_token=token, lease_until=now + lease)
                 .returning(*returned).execution_options(synchronize_session=False))
        rows = session.execute(claim).all()
    claims = [Claim(row.id, token, row.kind, row.source, row.owner, row.recipient, row.text, row.zone,
                    row.recurrence, as_utc(row.send_at), row.occurrence, row.attempts) for row in rows]
    return sorted(claims, key=lambda c: c.send_at)


def next_due_at(session_factory: SessionFactory) -> datetime | None:
    """Return when the soonest scheduled row is due, to wake up just in time."""
    with session_factory() as session:
        value = session.scalar(select(func.min(Reminder.due_at)).where(Reminder.status == Status.SCHEDULED))
    return as_utc(value) if value is not None else None


class Dispatcher:
    """Claims due messages and sends them; one per process, driven by a clock."""

    def __init__(self, session_factory: SessionFactory, transport: Transport, settings: Settings,
                 clock: Clock = utc_now) -> None:
        self.session_factory = session_factory
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self.stopping = threading.Event()
        self.rate = TokenBucket(settings.outbound_rate_per_second)
        self.pool = ThreadPoolExecutor(max_workers=max(settings.dispatch_concurrency, 1),
                                       thread_name_prefix="send")
        self.last_tick_at: datetime | None = None
        self.sent_count = 0
        self.failed_count = 0

    def tick(self) -> int:
        """Claim and send everything due now; return how many rows were processed."""
        processed = 0
        lease = timedelta(seconds=self.settings.lease_seconds)
        for _ in range(_MAX_BATCHES_PER_TICK):
            if self.stopping.is_set():
                break
            claims = claim_due(self.session_factory, self.clock(), self.settings.dispatch_batch_size, lease)
            if not claims:
                break
            list(self.pool.map(self._process, claims))
            processed += len(claims)
            if len(claims) < self.settings.dispatch_batch_size:
                break
        self.last_tick_at = self.clock()
        return processed

    def stop(self) -> None:
        """Stop claiming; sends in flight finish, claimed rows not yet sent are released."""
        self.stopping.set()
        self.pool.shutdown(wait=True)

    def _process(self, claim: Claim) -> None:
        try:
            self._deliver(claim)
        except Exception:  # never let one row kill the pool; its lease makes it come back
            log.exception("unexpected error delivering %s", claim.id)

    def _deliver(self, claim: Claim) -> None:
        if self.stopping.is_set() or not self.rate.acquire(self.stopping):
            self._release(claim)
            return
        with self.session_factory() as session:
            text, introduced = self._compose(session, claim)
            opted_out = store.is_opted_out(session, claim.recipient) and claim.source != "optout"
        if opted_out:
            self._fail(claim, "opted_out")
            return
        try:
            result = self.transport.send(
                from_number=self.settings.from_number, to=claim.recipient, text=text,
                idempotency_key=f"{claim.id}-{claim.occurrence}",
            )
        except SendError as error:
            self._handle_send_error(claim, error)
            return
        self._record_sent(claim, result.provider_message_id, introduced)

    def _compose(self, session: Session, claim: Claim) -> tuple[str, bool]:
        if claim.kind != Kind.REMINDER:
            return claim.text, False
        contact = session.get(Contact, claim.recipient)
        first_contact = (contact is None or contact.introduced_at is None) and claim.owner != claim.recipient
        if claim.source == "api":
            return wording.api_prefix(first_contact) + claim.text, first_contact
        late = (self.clock() - claim.send_at).total_seconds() > self.settings.late_note_after_seconds
        prefix = wording.reminder_prefix(claim.owner, claim.recipient, claim.send_at if late else None,
                                         claim.zone, first_contact)
        return prefix + claim.text, first_contact

    def _owned(self, session: Session, claim: Claim) -> Reminder | None:
        """Return the row if this claim still holds it (not cancelled, not re-claimed)."""
        reminder = session.get(Reminder, claim.id, with_for_update=True)
        if reminder is None or reminder.claim_token != claim.token or reminder.status != Status.SENDING:
            return None
        return reminder

    def _record_sent(self, claim: Claim, provider_message_id: str | None, introduced: bool) -> None:
        now = self.clock()
        with self.session_factory() as session, session.begin():
            reminder = self._owned(session, claim)
            if reminder is None:
                log.warning("reminder %s changed while it was being sent", claim.id)
                return
            if claim.kind == Kind.REMINDER:
                contact = store.get_contact(session, claim.recipient)
                contact.last_reminder_id = claim.id  # what "snooze" refers to
                if introduced:
                    contact.introduced_at = now
            reminder.sent_at = now
            reminder.provider_message_id = provider_message_id
            reminder.delivery_status = "queued"
            reminder.attempts = 0
            reminder.error = None
            reminder.claim_token = None
            reminder.lease_until = None
            following = (next_occurrence(reminder.recurrence, reminder.send_at, reminder.zone, now)
                         if reminder.recurrence else None)
            if following is not None:
                # Next occurrence after now, in the same transaction: missed ones collapse into one send.
                reminder.status = Status.SCHEDULED
                reminder.send_at = following
                reminder.due_at = following
                reminder.occurrence += 1
            else:
                reminder.status = Status.SENT
        self.sent_count += 1
        log.info("sent %s %s to %s", claim.kind, claim.id, mask_number(claim.recipient))

    def _handle_send_error(self, claim: Claim, error: SendError) -> None:
        if error.status == 429:
            self.rate.pause(error.retry_after if error.retry_after is not None else 1.0)
        attempts = claim.attempts + 1
        if error.opted_out:
            self._fail(claim, "opted_out")
        elif error.permanent or attempts >= self.settings.max_send_attempts:
            self._fail(claim, error.reason)
        else:
            delay = self._backoff(attempts, error.retry_after)
            with self.session_factory() as session, session.begin():
                reminder = self._owned(session, claim)
                if reminder is not None:
                    reminder.status = Status.SCHEDULED
                    reminder.attempts = attempts
                    reminder.due_at = self.clock() + timedelta(seconds=delay)
                    reminder.error = error.reason
                    reminder.claim_token = None
                    reminder.lease_until = None
            log.warning("send of %s failed (%s); retry %d in %.1fs", claim.id, error.reason, attempts, delay)

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        ceiling = min(self.settings.retry_max_seconds, self.settings.retry_base_seconds * 2 ** (attempts - 1))
        delay = random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread retries, keep a floor
        return max(delay, retry_after or 0.0)

    def _fail(self, claim: Claim, reason: str) -> None:
        now = self.clock()
        with self.session_factory() as session, session.begin():
            reminder = self._owned(session, claim)
            if reminder is None:
                return
            reminder.status = Status.FAILED
            reminder.error = reason
            reminder.claim_token = None
            reminder.lease_until = None
            owner = reminder.owner
            if (reminder.kind == Kind.REMINDER and owner and owner != reminder.recipient
                    and not reminder.owner_notified):
                reminder.owner_notified = True
                store.add_message(session, recipient=owner, text=wording.delivery_failed(
                    reminder.id, reminder.recipient, _readable_reason(reason)), send_at=now, now=now,
                    kind=Kind.NOTICE, source="bot", zone=reminder.zone)
        self.failed_count += 1
        log.warning("%s %s to %s failed: %s", claim.kind, claim.id, mask_number(claim.recipient), reason)

    def _release(self, claim: Claim) -> None:
        with self.session_factory() as session, session.begin():
            reminder = self._owned(session, claim)
            if reminder is not None:
                reminder.status = Status.SCHEDULED
                reminder.claim_token = None
                reminder.lease_until = None


def _readable_reason(reason: str) -> str:
    return "the recipient has opted out" if reason == "opted_out" else reason
