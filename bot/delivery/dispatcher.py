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
And every send carries the Idempotency-Key ``{id}-{occurrence}`` (``-{part}`` added
for each part of a long body under AUTO_CHUNK) with the same bytes every time: the body of an occurrence is composed once and stored before its
first send, so the one remaining window (the outcome could not be recorded, the
lease ran out, another instance sent again) is deduplicated by Telnyx. Twilio has no
idempotency key: before a row that had an attempt already is sent again, Twilio's
message list is asked whether that attempt went out after all (``_earlier_send``).

Every state change goes through bot.storage.lifecycle; this module decides what
happens next (send, retry, fail), never how a row changes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.storage import lifecycle, queries
from bot.language import wording
from bot.storage.db import SessionFactory
from bot.metrics import Metrics
from bot.storage.lifecycle import Claim
from bot.storage.models import ConsentState, Contact, DeliveryState, Kind, Reminder, Source, Status
from bot.phones import mask_number
from bot.delivery.budget import make_outbound_limit
from bot.delivery.ratelimit import OutboundLimit
from bot.settings import Settings
from bot.timeutil import Clock, as_utc, utc_now
from bot.delivery.transport import EarlierSend, SendError, Transport
from bot.language.segments import MAX_SEGMENTS, fits, split_message

log = logging.getLogger(__name__)

_MAX_CLAIMS_PER_TICK = 100  # bounds one tick; the next tick carries on
_RECORD_ATTEMPTS = 4  # about 1.4 s of database trouble (a failover, a restart) is ridden out
_CONTACT_STATE = (select(Contact.__table__.c.opted_out_at, Contact.__table__.c.introduced_at)
                  .where(Contact.__table__.c.number == bindparam("contact_number")))
# An earlier attempt at an occurrence started no sooner than the occurrence was due, by this instance's
# clock; the provider stamps its messages by its own. NTP keeps the two well within this.
_CLOCK_SKEW = timedelta(seconds=60)
_RECORDED_PROVIDER_IDS = (select(Reminder.__table__.c.provider_message_id)
                          .where(Reminder.__table__.c.provider_message_id.in_(bindparam("ids", expanding=True))))


def claim_due(session_factory: SessionFactory, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
    """Atomically claim up to ``limit`` due rows (or rows whose lease expired), in one transaction."""
    with session_factory() as session, session.begin():
        return lifecycle.claim_due(session, now, limit, lease)


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
                 clock: Clock = utc_now, metrics: Metrics | None = None, rate: OutboundLimit | None = None) -> None:
        self.session_factory = session_factory
        self.metrics = metrics
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self.stopping = threading.Event()
        # The account's budget, shared with every other process; tests pass one on their own clock.
        self.rate = rate or make_outbound_limit(settings, session_factory)
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
        if self.settings.outbound_rate_per_second > 0:  # the budget is shared: this process may get only its share
            share = self.settings.outbound_rate_per_second / max(self.settings.outbound_budget_processes, 1)
            limit = min(limit, int(share * half_lease))
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
        self.rate.close()

    def _process_in_order(self, claims: list[Claim]) -> None:
        # One recipient's messages go out one after another, so two replies arrive in order.
        for claim in claims:
            self._process(claim)

    def _process(self, claim: Claim) -> None:
        try:
            self._deliver(claim)
        except Exception as exc:  # one bad row must not kill the pool, nor come back forever
            log.exception("unexpected error delivering %s", claim.id)
            reason = f"internal error: {type(exc).__name__}"
            try:
                self._count_failed_attempt(claim, claim.attempts + 1, reason, retry_after=None)
            except Exception:  # the database is away too: the lease brings the row back, as a takeover
                log.exception("could not record the failed attempt of %s", claim.id)

    def _deliver(self, claim: Claim) -> None:
        if self.stopping.is_set():
            self._release(claim)
            return
        if claim.attempts >= self.settings.max_send_attempts:  # taken over after its claimers kept dying
            self._fail(claim, f"gave up after {claim.attempts} attempts")
            return
        held = self._hold(claim)
        if held is None:
            log.warning("reminder %s changed while it waited to be sent", claim.id)
            return
        text, refusal = held
        if refusal is not None:
            self._fail(claim, refusal)
            return
        # Under AUTO_CHUNK a body over MAX_SEGMENTS goes as several messages, each under a key of its
        # own: a retry sends every part again and the provider drops the ones it already took.
        parts = split_message(text) if self.settings.auto_chunk and not fits(text, MAX_SEGMENTS) else [text]
        provider_message_id, delivery = None, DeliveryState.ACCEPTED_EARLIER
        earlier_report = None  # what Twilio says now of a last part an earlier attempt sent
        for number, part in enumerate(parts, 1):
            if not self._wait_for_send_slot(claim):
                return
            key = f"{claim.id}-{claim.occurrence}" + (f"-{number}" if len(parts) > 1 else "")
            try:
                earlier = self._earlier_send(claim, part) if claim.attempts else None
                if earlier is not None:
                    log.warning("%s %s went out on an earlier attempt; not sending it again", claim.kind, claim.id)
                    provider_message_id, delivery = earlier.provider_message_id, DeliveryState.ACCEPTED_EARLIER
                    earlier_report = earlier.delivery_report
                    continue
                result = self.transport.send(from_number=self.settings.from_number, to=claim.recipient, text=part,
                                             idempotency_key=key)
                earlier_report = None
            except SendError as error:
                if error.key_reused:
                    # The provider took this occurrence (or part) before (an earlier attempt whose
                    # answer was lost) and refuses a second one: it went out, once.
                    log.warning("%s %s was accepted by an earlier attempt", claim.kind, claim.id)
                    continue
                self._handle_send_error(claim, error)
                return
            # Delivery reports follow the last part sent.
            provider_message_id, delivery = result.provider_message_id, DeliveryState.QUEUED
        self._record_sent(claim, provider_message_id, delivery)
        if earlier_report is not None and provider_message_id is not None:
            # Its delivery reports may have come before the row knew its id, and were not kept.
            with self.session_factory() as session, session.begin():
                lifecycle.record_delivery(session, provider_message_id, earlier_report, self.clock())

    def _wait_for_send_slot(self, claim: Claim) -> bool:
        """Wait for the account's next send slot; False (the claim released, or lost) when it must not go now.

        The slot is taken last, right before the request: work done between a slot and its send
        (the lease renewal, composing) would shift sends off their slots, and sends that each came
        a little late would bunch into more than the rate in some one-second window. A wait longer
        than a send's own margin (a 429 pause) renews the lease again.
        """
        started = time.monotonic()
        if self.stopping.is_set() or not self.rate.acquire(self.stopping):
            self._release(claim)
            return False
        if time.monotonic() - started > self.renew_below.total_seconds() and self._hold(claim) is None:
            log.warning("reminder %s changed while it waited to be sent", claim.id)
            return False
        return True

    def _earlier_send(self, claim: Claim, text: str) -> EarlierSend | None:
        """Return the message an earlier attempt at this occurrence sent, if the provider must be asked and has it.

        Only a provider without idempotency keys is asked (its transport has ``find_sent``). A
        message with this body and recipient whose id a row already holds is another row's (the
        same reply twice, say), not this one's. Raises SendError when the provider cannot be asked:
        sending blind could send twice.
        """
        find_sent = getattr(self.transport, "find_sent", None)
        if find_sent is None:
            return None
        candidates = find_sent(to=claim.recipient, text=text, since=claim.send_at - _CLOCK_SKEW)
        if not candidates:
            return None
        with self.session_factory() as session:
            recorded = set(session.connection().execute(
                _RECORDED_PROVIDER_IDS, {"ids": [found.provider_message_id for found in candidates]}).scalars())
        return next((found for found in candidates if found.provider_message_id not in recorded), None)

    def _hold(self, claim: Claim) -> tuple[str, str | None] | None:
        """Renew the claim's lease right before its send; return the body to send, or why it must not go.

        The reason is ``opted_out`` or ``awaiting_consent`` (see ``_refusal``), else None. None
        instead of a pair when the claim was lost meanwhile (taken over after its lease ran out).
        The body of an occurrence is composed once, on its first attempt, and stored: every retry,
        and any instance that takes the claim over, sends the same bytes under the same Idempotency-Key.
        """
        with self.session_factory() as session, session.begin():
            connection = session.connection()
            contact = connection.execute(_CONTACT_STATE, {"contact_number": claim.recipient}).first()
            refusal = self._refusal(session, contact, claim)
            body = None if refusal else self._compose(contact, claim)  # kept only if none is stored yet
            held = lifecycle.renew(session, claim, self.clock() + self.lease, body)
            if held is None:
                return None
            return held.outbound_text or "", refusal

    def _refusal(self, session: Session, contact: Row | None, claim: Claim) -> str | None:
        """Say why this message must not go out: the recipient opted out, or has not said YES to its sender."""
        if contact is not None and contact.opted_out_at is not None and claim.source != Source.OPTOUT:
            return "opted_out"
        third_party_sms = (claim.kind == Kind.REMINDER and claim.source == Source.SMS and claim.owner is not None
                           and claim.owner != claim.recipient)
        if not third_party_sms or not self.settings.asks_recipient_consent:
            return None
        # One primary-key read, for SMS reminders to someone else only. Under ask, setting one always
        # writes its pair's row (bot.conversation.handlers); no row means it was set before consent was
        # asked for (an older version, or THIRD_PARTY_CONSENT=notice) and goes out as promised then.
        state = queries.consent_state(session, claim.owner, claim.recipient)
        if state == ConsentState.REQUESTED:
            return "awaiting_consent"
        return "opted_out" if state == ConsentState.REFUSED else None

    def _compose(self, contact: Row | None, claim: Claim) -> str:
        if claim.kind != Kind.REMINDER:
            return claim.text
        first_contact = (contact is None or contact.introduced_at is None) and claim.owner != claim.recipient
        if claim.source == Source.API:
            return wording.api_prefix(first_contact, self.settings.brand_name) + claim.text
        late = (self.clock() - claim.send_at).total_seconds() > self.settings.late_note_after_seconds
        # A reminder set by SMS ends with how to answer it (snooze, done, or end the series).
        hint = wording.reminder_hint(claim.id, claim.recurrence is not None) if claim.source == Source.SMS else ""
        return wording.reminder_message(claim.owner, claim.recipient, claim.send_at if late else None, claim.zone,
                                        first_contact, claim.text, hint)

    def _record_sent(self, claim: Claim, provider_message_id: str | None, delivery: DeliveryState) -> None:
        # The message is out: try hard to record it. If this fails for good the row keeps its claim,
        # another instance sends it again after the lease, and Telnyx drops it by Idempotency-Key.
        for attempt in range(_RECORD_ATTEMPTS):
            try:
                self._mark_sent(claim, provider_message_id, delivery)
                return
            except OperationalError:
                if attempt == _RECORD_ATTEMPTS - 1:
                    raise
                log.warning("could not record the send of %s; trying again", claim.id, exc_info=True)
                time.sleep(0.2 * 2 ** attempt)

    def _mark_sent(self, claim: Claim, provider_message_id: str | None, delivery: DeliveryState) -> None:
        now = self.clock()
        # Next occurrence after now, in the same transaction: missed ones collapse into one send.
        next_send_at = lifecycle.following(claim, now)
        with self.session_factory() as session, session.begin():
            if not lifecycle.mark_sent(session, claim, now, provider_message_id, next_send_at, delivery):
                log.warning("reminder %s changed while it was being sent", claim.id)
                return
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
        if error.opted_out:
            self._fail(claim, "opted_out", provider_refused=True)
        elif error.permanent:
            self._fail(claim, error.reason)
        else:
            self._count_failed_attempt(claim, claim.attempts + 1, error.reason, error.retry_after)

    def _count_failed_attempt(self, claim: Claim, attempts: int, reason: str, retry_after: float | None) -> None:
        """Retry later with backoff, or fail the occurrence once it has had its attempts."""
        if attempts >= self.settings.max_send_attempts:
            self._fail(claim, reason)
            return
        delay = self._backoff(attempts, retry_after)
        with self.session_factory() as session, session.begin():
            lifecycle.retry(session, claim, attempts, self.clock() + timedelta(seconds=delay), reason)
        log.warning("send of %s failed (%s); retry %d in %.1fs", claim.id, reason, attempts, delay)

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        ceiling = min(self.settings.retry_max_seconds, self.settings.retry_base_seconds * 2 ** (attempts - 1))
        delay = random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread retries, keep a floor
        return max(delay, retry_after or 0.0)

    def _fail(self, claim: Claim, reason: str, provider_refused: bool = False) -> None:
        now = self.clock()
        # A failed occurrence does not end a series, unless the recipient opted out.
        next_send_at = None if reason == "opted_out" else lifecycle.following(claim, now)
        with self.session_factory() as session, session.begin():
            if not lifecycle.fail(session, claim, reason, now, next_send_at):
                return
            if provider_refused:  # an opt-out the provider knows of: the bot's own records follow it
                lifecycle.record_opt_out(session, claim.recipient, now)
        with self._count_lock:
            self.failed_count += 1
        if self.metrics is not None:
            self.metrics.failed.labels(kind=claim.kind).inc()
        log.warning("%s %s to %s failed: %s", claim.kind, claim.id, mask_number(claim.recipient), reason)

    def _release(self, claim: Claim) -> None:
        self._release_all([claim])

    def _release_all(self, claims: list[Claim]) -> None:
        """Put claimed rows that were not sent back to ``scheduled``, for any instance to take."""
        if not claims:
            return
        with self.session_factory() as session, session.begin():
            lifecycle.release(session, claims)
        log.debug("released %d claimed messages", len(claims))
