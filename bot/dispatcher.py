"""Delivery: claim due rows atomically, send them, record the outcome.

The reminders table is the queue. A claim flips due rows to ``sending`` with a
claim token and a lease in one conditional UPDATE (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so any number of dispatchers on one database never claim the same
row; a row whose lease ran out (its claimer died) is claimed again. Sends run on
a bounded thread pool under an outbound rate limit, and failures are retried with
exponential backoff and jitter, honouring Retry-After.

Exactly once rests on two things. A row is only sent while its claim still holds
a lease that outlasts the send: claims are sized to what the pool can send well
within the lease, and every row renews its lease right before it is sent,
conditionally on still holding the claim (so a row cancelled or taken over while
it waited in the pool is not sent).
And every send carries the Idempotency-Key ``{id}-{occurrence}``, so the one
remaining window (the outcome could not be recorded, the lease ran out, another
instance sent again) is deduplicated by Telnyx.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot import store, wording
from bot.db import SessionFactory
from bot.metrics import Metrics
from bot.models import Contact, Kind, Reminder, Status
from bot.occurrences import advance
from bot.phones import mask_number
from bot.ratelimit import TokenBucket
from bot.settings import Settings
from bot.timeutil import Clock, as_utc, utc_now
from bot.transport import SendError, Transport

log = logging.getLogger(__name__)

_MAX_CLAIMS_PER_TICK = 100  # bounds one tick; the next tick carries on
_RECORD_ATTEMPTS = 4  # about 1.4 s of database trouble (a failover, a restart) is ridden out


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


# The per-send statements, built once. Each is conditional on the claim's token and status, so a
# row cancelled or re-claimed meanwhile matches nothing. Core statements on the tables, not ORM
# updates: the ORM's bulk-update path was a quarter of the dispatcher's CPU per send (profiled).
_REMINDERS = Reminder.__table__
_HELD_BY_CLAIM = and_(_REMINDERS.c.id == bindparam("claim_id"), _REMINDERS.c.claim_token == bindparam("held_token"),
                      _REMINDERS.c.status == Status.SENDING)
_RENEW_LEASE = update(_REMINDERS).where(_HELD_BY_CLAIM).values(lease_until=bindparam("new_lease_until"))
_SENT_VALUES = dict(sent_at=bindparam("new_sent_at"), provider_message_id=bindparam("new_provider_message_id"),
                    delivery_status="queued", attempts=0, error=None, claim_token=None, lease_until=None)
_MARK_SENT = update(_REMINDERS).where(_HELD_BY_CLAIM).values(status=Status.SENT, **_SENT_VALUES)
_MARK_SENT_AND_RESCHEDULE = update(_REMINDERS).where(_HELD_BY_CLAIM).values(
    status=Status.SCHEDULED, send_at=bindparam("next_send_at"), due_at=bindparam("next_send_at"),
    recurrence=bindparam("next_recurrence"), occurrence=_REMINDERS.c.occurrence + 1, **_SENT_VALUES)
_CONTACT_STATE = (select(Contact.__table__.c.opted_out_at, Contact.__table__.c.introduced_at)
                  .where(Contact.__table__.c.number == bindparam("contact_number")))


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


def _by_recipient(claims: list[Claim]) -> list[list[Claim]]:
    """Group claims by recipient, keeping their order (soonest first)."""
    groups: dict[str, list[Claim]] = {}
    for claim in claims:
        groups.setdefault(claim.recipient, []).append(claim)
    return list(groups.values())


def next_due_at(session_factory: SessionFactory) -> datetime | None:
    """Return when the soonest scheduled row is due, to wake up just in time."""
    with session_factory() as session:
        value = session.scalar(select(func.min(Reminder.due_at)).where(Reminder.status == Status.SCHEDULED))
    return as_utc(value) if value is not None else None


class Dispatcher:
    """Claims due messages and sends them; one per process, driven by a clock."""

    def __init__(self, session_factory: SessionFactory, transport: Transport, settings: Settings,
                 clock: Clock = utc_now, metrics: Metrics | None = None) -> None:
        self.session_factory = session_factory
        self.metrics = metrics
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self.stopping = threading.Event()
        self.rate = TokenBucket(settings.outbound_rate_per_second)
        self.concurrency = max(settings.dispatch_concurrency, 1)
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="send")
        # What one send needs of its lease: the send's own timeout, plus room for recording the
        # outcome and for clock skew between instances. The lease is at least twice that.
        margin = max(1.0, settings.send_timeout_seconds / 2)
        self.renew_below = timedelta(seconds=settings.send_timeout_seconds + margin)
        self.lease = max(timedelta(seconds=settings.lease_seconds), 2 * self.renew_below)
        if self.lease.total_seconds() > settings.lease_seconds:
            log.warning("LEASE_SECONDS=%s is too short for SEND_TIMEOUT_SECONDS=%s; using %.0f s",
                        settings.lease_seconds, settings.send_timeout_seconds, self.lease.total_seconds())
        self.claim_limit = self._claim_limit()
        self._submitted: dict[Future[None], list[Claim]] = {}  # the current tick's sends, for request_stop
        self.last_tick_at: datetime | None = None
        self.sent_count = 0
        self.failed_count = 0
        self._count_lock = threading.Lock()

    def _claim_limit(self) -> int:
        """Claim no more than the pool sends within half a lease, even if every send times out."""
        half_lease = self.lease.total_seconds() / 2
        waves = max(1, int(half_lease // max(self.settings.send_timeout_seconds, 0.001)))
        limit = min(self.settings.dispatch_batch_size, self.concurrency * waves)
        if self.settings.outbound_rate_per_second > 0:
            limit = min(limit, int(self.settings.outbound_rate_per_second * half_lease))
        return max(limit, 1)

    def tick(self) -> int:
        """Claim and send everything due now; return how many rows were processed."""
        processed = 0
        submitted = self._submitted = {}
        running: set[Future[None]] = set()
        try:
            for _ in range(_MAX_CLAIMS_PER_TICK):
                if self.stopping.is_set():
                    break
                claims = claim_due(self.session_factory, self.clock(), self.claim_limit, self.lease)
                groups = _by_recipient(claims)
                for position, group in enumerate(groups):
                    try:
                        future = self.pool.submit(self._process_in_order, group)
                    except RuntimeError:  # stop() shut the pool down under us
                        self._release_all([claim for rest in groups[position:] for claim in rest])
                        return processed + sum(len(group) for group in groups[:position])
                    submitted[future] = group
                    running.add(future)
                processed += len(claims)
                if len(claims) < self.claim_limit:
                    break
                # Claim the next batch only when the pool is about to run dry, so that rows are
                # claimed shortly before they are sent and the pool never idles between batches.
                # request_stop() cancels the queued sends, which ends this wait at once.
                while len(running) > self.concurrency and not self.stopping.is_set():
                    running -= wait(running, return_when=FIRST_COMPLETED).done
        finally:
            self._finish(submitted)
        self.last_tick_at = self.clock()
        return processed

    def _finish(self, submitted: dict[Future[None], list[Claim]]) -> None:
        """Wait for this tick's sends; when stopping, release in one go the ones not started yet."""
        if self.stopping.is_set():
            for future in submitted:
                future.cancel()
        wait(submitted)
        self._release_all([claim for future, group in submitted.items() if future.cancelled() for claim in group])
        self._submitted = {}

    def request_stop(self) -> None:
        """Stop claiming and drop the queued sends (their rows are released); do not wait."""
        self.stopping.set()
        for future in list(self._submitted):
            future.cancel()

    def stop(self) -> None:
        """Stop claiming; sends in flight finish, claimed rows not yet sent are released."""
        self.request_stop()
        self.pool.shutdown(wait=True)

    def _process_in_order(self, claims: list[Claim]) -> None:
        # One recipient's messages go out one after another, so two replies arrive in order.
        for claim in claims:
            self._process(claim)

    def _process(self, claim: Claim) -> None:
        try:
            self._deliver(claim)
        except Exception:  # never let one row kill the pool; its lease makes it come back
            log.exception("unexpected error delivering %s", claim.id)

    def _deliver(self, claim: Claim) -> None:
        if self.stopping.is_set() or not self.rate.acquire(self.stopping):
            self._release(claim)
            return
        held, contact = self._hold_lease(claim)
        if not held:
            log.warning("reminder %s changed while it waited to be sent", claim.id)
            return
        text, introduced = self._compose(contact, claim)
        opted_out = contact is not None and contact.opted_out_at is not None and claim.source != "optout"
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
        # The message is out: try hard to record it. If this fails for good the row keeps its claim,
        # another instance sends it again after the lease, and Telnyx drops it by Idempotency-Key.
        for attempt in range(_RECORD_ATTEMPTS):
            try:
                self._record_sent(claim, result.provider_message_id, introduced)
                return
            except OperationalError:
                if attempt == _RECORD_ATTEMPTS - 1:
                    raise
                log.warning("could not record the send of %s; trying again", claim.id, exc_info=True)
                time.sleep(0.2 * 2 ** attempt)

    def _hold_lease(self, claim: Claim) -> tuple[bool, Row | None]:
        """Renew the claim's lease right before its send, and read the recipient's contact.

        Says False when the claim was lost or cancelled meanwhile. The contact (opt-out,
        introduction) is read in the same transaction, to keep this hot path to one round trip.
        """
        # Conditional on the token and status: a row cancelled while it waited in the pool (behind
        # the rate limit or a 429 pause), or taken over after its lease ran out, matches nothing and
        # is not sent. What is left is the send itself, which no one can call back.
        with self.session_factory() as session, session.begin():
            connection = session.connection()
            renewed = connection.execute(_RENEW_LEASE, {"claim_id": claim.id, "held_token": claim.token,
                                                        "new_lease_until": self.clock() + self.lease})
            if renewed.rowcount != 1:
                return False, None
            return True, connection.execute(_CONTACT_STATE, {"contact_number": claim.recipient}).first()

    def _compose(self, contact: Row | None, claim: Claim) -> tuple[str, bool]:
        if claim.kind != Kind.REMINDER:
            return claim.text, False
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
        # Two statements, each conditional, instead of reading the row and the contact back: this
        # runs once per message, and its round trips were half of the dispatcher's time per send.
        now = self.clock()
        values: dict[str, object] = dict(claim_id=claim.id, held_token=claim.token, new_sent_at=now,
                                         new_provider_message_id=provider_message_id)
        following, rule = (advance(claim.recurrence, claim.send_at, claim.zone, now) if claim.recurrence
                           else (None, None))
        if following is not None:
            # Next occurrence after now, in the same transaction: missed ones collapse into one send.
            values.update(next_send_at=following, next_recurrence=rule)
        with self.session_factory() as session, session.begin():
            connection = session.connection()
            if connection.execute(_MARK_SENT if following is None else _MARK_SENT_AND_RESCHEDULE,
                                  values).rowcount != 1:
                log.warning("reminder %s changed while it was being sent", claim.id)
                return
            if claim.kind == Kind.REMINDER:
                contact = {"last_reminder_id": claim.id}  # what "snooze" refers to
                if introduced:
                    contact["introduced_at"] = now
                connection.execute(store.upsert(session, Contact, {"number": claim.recipient, **contact}, contact))
        with self._count_lock:
            self.sent_count += 1
        if self.metrics is not None:
            self.metrics.sent.labels(kind=claim.kind).inc()
            if claim.kind == Kind.REMINDER:
                self.metrics.lateness.observe(max((now - claim.send_at).total_seconds(), 0.0))
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
            reminder.claim_token = None
            reminder.lease_until = None
            store.fail_reminder(session, reminder, reason, now)
        with self._count_lock:
            self.failed_count += 1
        if self.metrics is not None:
            self.metrics.failed.labels(kind=claim.kind).inc()
        log.warning("%s %s to %s failed: %s", claim.kind, claim.id, mask_number(claim.recipient), reason)

    def _release(self, claim: Claim) -> None:
        self._release_all([claim])

    def _release_all(self, claims: list[Claim]) -> None:
        """Put claimed rows that were not sent back to ``scheduled``, for any instance to take."""
        by_token: dict[str, list[str]] = {}
        for claim in claims:
            by_token.setdefault(claim.token, []).append(claim.id)
        if not by_token:
            return
        with self.session_factory() as session, session.begin():
            for token, ids in by_token.items():
                session.execute(
                    update(Reminder)
                    .where(Reminder.id.in_(ids), Reminder.claim_token == token, Reminder.status == Status.SENDING)
                    .values(status=Status.SCHEDULED, claim_token=None, lease_until=None)
                    .execution_options(synchronize_session=False))
        log.debug("released %d claimed messages", len(claims))

