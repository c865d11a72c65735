"""The inbox: answer a webhook as soon as its message is stored, handle it off the request.

``accept`` is all a webhook does after verifying the signature: one INSERT ... ON CONFLICT DO
NOTHING into the inbox (deduplicated on the message id and the event id), committed before the 200.
A crash after that loses nothing: the row waits for any instance to handle it.

``InboxProcessor`` handles the stored messages in batches, on a timer of its own with the same
clock, wake and claims as delivery: it claims a batch (``bot.storage.inbox_queries.claim_batch``:
oldest first, only senders nobody else is handling), then, in one session, handles the messages
with ``handle_inbound`` in short transactions (a few messages each) that also mark their inbox rows
done (one statement for the transaction's rows). A message is therefore handled and marked done
together or not at all: a SIGKILL at any point leaves it ``received`` or claimed (taken over when
the lease runs out), never half handled, and never handled twice (the mark is conditional on the
claim, and ``inbound_messages`` knows every id handled before). On PostgreSQL a batch is split into
``INBOX_CONCURRENCY`` lanes by sender, handled side by side (a message is mostly round trips to the
database); each sender's messages stay in one lane, in order. SQLite has one writer, so one lane.
A message whose handling raises MAX_ATTEMPTS times is given up, and its sender is told (wording.handling_failed).
Rows handled INBOX_RETENTION_DAYS ago are deleted, once an hour per process.

Answers come first. Handling a message costs several times what storing it does; in the same
process it would hold the GIL while webhooks wait for it (a thread back from I/O waits up to the
5 ms switch interval for a CPU-bound one), and on SQLite it holds the one writer's lock that every
webhook's INSERT needs. So before each claim and each chunk the processor waits while webhooks
arrive in a burst, in any process or instance (new inbox rows at ``BURST_RATE`` or more since its
last look, looking every ``QUIET``), for at most ``MOST_DEFERRAL`` in a row. A burst is answered
first and handled right after it; a steady trickle (40 a second) is handled as it comes, since
waiting for every answer in flight would let the inbox fall behind; a flood that lasts longer than
MOST_DEFERRAL shares the CPU again.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Callable

from sqlalchemy.orm import Session

from bot.conversation.inbound import InboundOutcome, InboundSms, handle_inbound
from bot.language import wording
from bot.phones import is_short_code_or_alphanumeric, mask_number
from bot.settings import Settings
from bot.storage import inbox_queries, lifecycle, queries
from bot.storage.db import SessionFactory, engine_of
from bot.storage.group_commit import runner_for
from bot.storage.inbox_queries import InboxClaim
from bot.storage.models import InboxOutcome, Kind, Source
from bot.timeutil import Clock

log = logging.getLogger(__name__)

_MAX_BATCHES_PER_TICK = 100  # bounds one tick; the timer runs the next one
QUIET = 0.02  # seconds between looks at the inbox while waiting for a burst to pass
BURST_RATE = 100.0  # new inbox rows a second (and at least two) that make a burst
BURST_END_RATE = 50.0  # and below which a burst is over (a trickle of 40 a second never starts one)
MOST_DEFERRAL = 5.0  # seconds handling waits in a row for webhooks to pause; then it shares the CPU
CHUNK_SIZE = 10  # messages handled in one transaction, at most
CHUNK_SECONDS = 0.02  # and no more than fit in about this long: SQLite's writer waits that long at most
# PostgreSQL has no writer to keep waiting: longer transactions there, for fewer commits (a round trip
# each); still short enough to look for a burst of webhooks every tenth of a second.
CHUNK_SECONDS_POSTGRESQL = 0.1
PRUNE_EVERY = 3600.0  # seconds between passes that delete rows handled INBOX_RETENTION_DAYS ago
PRUNE_BATCH = 1000  # rows deleted in one transaction (a short turn of SQLite's writer lock)
_MAX_PRUNE_BATCHES = 100  # bounds one pass; the next pass takes the rest
MAX_ATTEMPTS = 5  # handlings that raised (or claimers that died) before a message is given up as failed


class Acceptance(StrEnum):
    """What the inbox made of a webhook's message."""

    ACCEPTED = "accepted"  # stored; it will be handled shortly
    DUPLICATE = "duplicate"  # its message id or event id was stored before: a retried webhook


def accept(message: InboundSms, *, session_factory: SessionFactory, now: datetime) -> Acceptance:
    """Store an inbound SMS for handling, in one committed INSERT; say whether it was new."""
    # PostgreSQL cannot store U+0000 in text; the parser reads every control character as a space.
    text = message.text.replace("\x00", " ")
    # A Core connection's transaction, not a Session's: this is the webhook's whole cost (as the floor's).
    # On SQLite it shares its transaction with the writes queued beside it (group_commit).
    stored = runner_for(engine_of(session_factory)).run(
        lambda connection: inbox_queries.add(connection, message_id=message.message_id, event_id=message.event_id,
                                             sender=message.sender, text=text, received_at=now))
    return Acceptance.ACCEPTED if stored else Acceptance.DUPLICATE


def _lanes(claims: list[InboxClaim], count: int) -> list[list[InboxClaim]]:
    """Split claims (in arrival order) into at most ``count`` lanes; a sender's claims share one, in order."""
    lane_of: dict[str, int] = {}
    lanes: list[list[InboxClaim]] = [[] for _ in range(max(count, 1))]
    for claim in claims:
        lane = lane_of.setdefault(claim.sender, len(lane_of) % len(lanes))
        lanes[lane].append(claim)
    return [lane for lane in lanes if lane]


class _ClaimLost(Exception):
    """The claim on an inbox row was taken over while the message was being handled: roll back."""


class InboxProcessor:
    """Claims stored inbound messages and handles them; one per process, driven by a timer."""

    def __init__(self, session_factory: SessionFactory, settings: Settings, clock: Clock, *,
                 on_handled: Callable[[InboundOutcome], None], is_outage: Callable[[BaseException], bool]) -> None:
        """``on_handled`` hears every outcome (after its commit); ``is_outage`` tells a database outage from a bug."""
        self.session_factory = session_factory
        self.settings = settings
        self.clock = clock
        self.on_handled = on_handled
        self.is_outage = is_outage
        self.batch_size = settings.inbox_batch_size
        self.lease = timedelta(seconds=settings.inbox_lease_seconds)
        self.retention = timedelta(days=settings.inbox_retention_days)
        self._pruned_at = float("-inf")  # time.monotonic() of the last pass
        self.stopping = threading.Event()
        self.last_tick_at: datetime | None = None
        dialect = session_factory.kw["bind"].dialect.name if "bind" in session_factory.kw else "sqlite"
        self.lanes = settings.inbox_concurrency if dialect == "postgresql" else 1
        self.chunk_seconds = CHUNK_SECONDS_POSTGRESQL if dialect == "postgresql" else CHUNK_SECONDS
        self._pool = ThreadPoolExecutor(max_workers=self.lanes, thread_name_prefix="inbox") if self.lanes > 1 else None
        self._look_lock = threading.Lock()  # lanes look at the inbox's growth one at a time
        self._deferring_since: float | None = None
        self._newest_seen = 0  # the inbox's newest row at the last look
        self._looked_at = float("-inf")  # time.monotonic() of that look
        self._busy = False  # what that look said
        self._looking_again = False  # that look came after a pause: the next one decides by the rate
        self._in_burst = False  # that look saw a burst by the rate (it lasts until BURST_END_RATE)

    def tick(self) -> int:
        """Claim and handle batches until none is left (or the tick's bound); return how many were handled."""
        handled = 0
        for _ in range(_MAX_BATCHES_PER_TICK):
            if self.stopping.is_set():
                break
            self._yield_to_webhooks()
            claims = self._claim()
            if not claims:
                break
            handled += self._handle_batch(claims)
            if len(claims) < self.batch_size:
                break  # anything that came meanwhile woke the timer, which runs again
        self._prune_if_due()
        self.last_tick_at = self.clock()
        return handled

    def next_due(self) -> datetime | None:
        """Return when there is next work: now, when a lease runs out, or None."""
        with self.session_factory() as session:
            return inbox_queries.next_due(session, self.clock())

    def count_waiting(self) -> int:
        """Count the inbound messages stored and not handled yet, by any instance: the backlog."""
        with self.session_factory() as session:
            return inbox_queries.count_waiting(session)

    def request_stop(self) -> None:
        """Stop claiming; the batch under way releases the messages it has not started."""
        self.stopping.set()

    def stop(self) -> None:
        """Stop claiming (the timer waits for the batch under way before this)."""
        self.request_stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _prune_if_due(self) -> None:
        """Delete rows handled more than INBOX_RETENTION_DAYS ago, every PRUNE_EVERY, in short transactions."""
        if self.stopping.is_set() or time.monotonic() - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = time.monotonic()  # first: a failed pass is not retried every tick
        before = self.clock() - self.retention
        for _ in range(_MAX_PRUNE_BATCHES):
            with self.session_factory() as session, session.begin():
                if inbox_queries.delete_done_before(session, before, PRUNE_BATCH) < PRUNE_BATCH:
                    return

    def _yield_to_webhooks(self) -> None:
        """Wait while webhooks are being answered, up to MOST_DEFERRAL in a row (see the module's docstring)."""
        while not self.stopping.is_set():
            now = time.monotonic()
            if not self._webhooks_busy():
                self._deferring_since = None
                return
            if self._deferring_since is None:
                self._deferring_since = now
            elif now - self._deferring_since >= MOST_DEFERRAL:
                return  # a flood, not a burst: handle while it lasts
            self.stopping.wait(QUIET)

    def _webhooks_busy(self) -> bool:
        """Say whether webhooks store in a burst: BURST_RATE or more since the last look, until below BURST_END_RATE."""
        with self._look_lock:
            return self._look()

    def _look(self) -> bool:
        now = time.monotonic()
        elapsed = now - self._looked_at
        if elapsed < QUIET:
            return self._busy  # looked a moment ago: the same answer
        # Every worker and instance stores into the one inbox: one index read of its newest row.
        with self.session_factory() as session:
            newest = inbox_queries.newest_id(session) or 0
        grew, self._newest_seen, self._looked_at = newest - self._newest_seen, newest, now
        if elapsed > 3 * QUIET and not self._looking_again:
            # After a pause the count says nothing of the rate now (a burst may have just begun):
            # look again in QUIET. It costs a message that waited alone those 20 ms.
            self._looking_again = self._busy = grew > 0
            self._in_burst = False
            return self._busy
        # The rate since the last look decides, however long that was: on a loaded machine a wait
        # of QUIET can take several times as long, and a steady 40 a second must not pass for a
        # burst after every such wait (the inbox would wait MOST_DEFERRAL at a time: the likely cause
        # of a p50 of 5.65 s in the inbox at 40/s on a loaded machine, bench/README-burst.md). A burst
        # under way lasts until the rate falls below BURST_END_RATE: handling while webhooks arrive
        # slows them down (the GIL, the writer lock), which must not be taken for the burst's end.
        rate = BURST_END_RATE if self._in_burst else BURST_RATE
        self._looking_again = False
        self._in_burst = self._busy = grew >= max(2.0, rate * elapsed)
        return self._busy

    def _claim(self) -> list[InboxClaim]:
        now = self.clock()
        with self.session_factory() as session, session.begin():
            if not inbox_queries.has_claimable(session, now):  # a poll that finds nothing writes nothing
                return []
            return inbox_queries.claim_batch(session, now, self.batch_size, self.lease)

    def _handle_batch(self, claims: list[InboxClaim]) -> int:
        """Handle a claimed batch, in lanes of whole senders side by side; return how many were handled."""
        # Stop well within the lease, so that nobody takes the rest over while it is still ours.
        give_back_at = self.clock() + self.lease / 2
        lanes = _lanes(claims, self.lanes)
        if self._pool is None or len(lanes) == 1:
            return self._handle_lane(lanes[0], give_back_at)
        futures = [self._pool.submit(self._handle_lane, lane, give_back_at) for lane in lanes]
        wait(futures)
        return sum(future.result() for future in futures)  # raises what a lane raised (an outage)

    def _handle_lane(self, claims: list[InboxClaim], give_back_at: datetime) -> int:
        """Handle claimed messages in order, in one session; release what is left when told to stop.

        Messages go in chunks, several to a transaction (one commit, one turn of SQLite's writer
        lock), of at most CHUNK_SIZE and about ``chunk_seconds``. A chunk that raises is rolled back
        whole and its messages handled one at a time, so one bad message costs no other its turn.
        """
        handled = 0
        pending = list(claims)
        held_back: list[InboxClaim] = []  # later messages of a sender whose earlier one did not finish
        blocked: set[str] = set()
        with self.session_factory() as session:
            try:
                while pending:
                    if self.stopping.is_set() or self.clock() >= give_back_at:
                        break
                    if pending[0].sender in blocked:
                        held_back.append(pending.pop(0))
                        continue
                    self._yield_to_webhooks()
                    chunk = self._chunk(pending, blocked)
                    outcomes = self._handle_chunk(session, chunk)
                    if outcomes is None:  # something in it raised: one at a time
                        outcomes = []
                        for claim in chunk:
                            if claim.sender in blocked:
                                held_back.append(claim)
                            elif (outcome := self._handle_alone(session, claim, blocked)) is not None:
                                outcomes.append(outcome)
                        del pending[:len(chunk)]
                    else:
                        del pending[:len(outcomes)]
                    for outcome in outcomes:
                        handled += 1
                        self.on_handled(outcome)
            finally:  # stopped, out of time, or the database went away: give the rest back now
                self._release_quietly(held_back + pending)
        return handled

    @staticmethod
    def _chunk(pending: list[InboxClaim], blocked: set[str]) -> list[InboxClaim]:
        """Return the leading claims to handle together: up to CHUNK_SIZE, none of a blocked sender."""
        chunk: list[InboxClaim] = []
        for claim in pending[:CHUNK_SIZE]:
            if claim.sender in blocked:
                break
            chunk.append(claim)
        return chunk

    def _handle_chunk(self, session: Session, chunk: list[InboxClaim]) -> list[InboundOutcome] | None:
        """Handle the leading messages of ``chunk`` in one transaction (as many as fit ``chunk_seconds``).

        Returns their outcomes once committed; None when one raised (a bug, or a claim lost), and
        the transaction was rolled back. A database outage is raised.
        """
        finished: list[tuple[InboxClaim, InboundOutcome]] = []
        started = time.monotonic()
        try:
            with session.begin():
                for claim in chunk:
                    finished.append((claim, self._handle_message(session, claim)))
                    if time.monotonic() - started >= self.chunk_seconds:
                        break
                # Every row of the chunk marked done at once, in the transaction that handled them.
                marks = [(claim, outcome.status, outcome.command) for claim, outcome in finished]
                if inbox_queries.finish_all(session, marks, self.clock()) != len(marks):
                    raise _ClaimLost  # one at a time finds which
        except Exception as error:
            if self.is_outage(error):
                raise
            return None
        finally:
            # The session lives for the batch and does not expire on commit: the next message must
            # read rows afresh, not the objects this one loaded.
            session.expunge_all()
        return [outcome for _claim, outcome in finished]

    def _handle_alone(self, session: Session, claim: InboxClaim, blocked: set[str]) -> InboundOutcome | None:
        """Handle one message in a transaction of its own; count a failure. None when it is not done."""
        try:
            with session.begin():
                outcome = self._handle(session, claim)
        except _ClaimLost:
            log.warning("inbound %s was taken over while it was being handled", claim.message_id)
            blocked.add(claim.sender)
            return None
        except Exception as error:
            if self.is_outage(error):
                raise
            given_up = self._count_failure(session, claim, error)
            if given_up is None:  # to be tried again: the sender's later messages wait for it
                blocked.add(claim.sender)
            return given_up
        finally:
            session.expunge_all()
        return outcome

    def _handle(self, session: Session, claim: InboxClaim) -> InboundOutcome:
        """Handle one message in the session's open transaction, and mark its row done there."""
        outcome = self._handle_message(session, claim)
        if not inbox_queries.finish(session, claim, outcome.status, outcome.command, self.clock()):
            raise _ClaimLost
        return outcome

    def _handle_message(self, session: Session, claim: InboxClaim) -> InboundOutcome:
        """Handle one message in the session's open transaction; its row is marked done by the caller, there."""
        message = InboundSms(claim.message_id, claim.sender, claim.text, claim.event_id)
        # Read as of its arrival: "in 2 hours" counts from when the person texted, however long it waited.
        return handle_inbound(message, session_factory=self.session_factory, settings=self.settings,
                              now=claim.received_at, session=session)

    def _count_failure(self, session: Session, claim: InboxClaim, error: Exception) -> InboundOutcome | None:
        """Put a message whose handling raised back for another try, or give it up; the outcome if given up."""
        attempts = claim.attempts + 1
        log.error("handling inbound %s from %s failed (attempt %d of %d)", claim.message_id,
                  mask_number(claim.sender), attempts, MAX_ATTEMPTS, exc_info=error)
        with session.begin():
            if attempts < MAX_ATTEMPTS:
                inbox_queries.retry(session, claim, attempts)
                return None
            if not inbox_queries.finish(session, claim, InboxOutcome.FAILED, None, self.clock(), attempts):
                return None
            apologised = self._apologise(session, claim)
        return InboundOutcome(InboxOutcome.FAILED, reason="handling failed",
                              reply=wording.handling_failed() if apologised else None)

    def _apologise(self, session: Session, claim: InboxClaim) -> bool:
        """Queue an apology (wording.handling_failed) to the sender of a message given up on.

        In the open transaction; say whether it was queued.

        Not to a number that opted out or is not let in (they get no answers at all). In a savepoint:
        when queueing a reply to this number is what keeps failing, the message is given up all the same.
        """
        sender = claim.sender
        if (sender == self.settings.from_number or is_short_code_or_alphanumeric(sender)
                or (self.settings.allowed_senders and sender not in self.settings.allowed_senders)):
            return False
        now = self.clock()
        try:
            with session.begin_nested():
                if queries.opted_out(session, sender):
                    return False
                lifecycle.schedule(session, recipient=sender, text=wording.handling_failed(), send_at=now, now=now,
                                   kind=Kind.REPLY, source=Source.BOT)
        except Exception as error:
            if self.is_outage(error):
                raise
            log.warning("could not queue an apology for inbound %s", claim.message_id, exc_info=error)
            return False
        return True

    def _release_quietly(self, claims: list[InboxClaim]) -> None:
        """Give claims back at once; if the database will not take it, their lease runs out instead."""
        if not claims:
            return
        try:
            with self.session_factory() as session, session.begin():
                inbox_queries.release(session, claims)
        except Exception:  # noqa: BLE001 - the lease brings them back; the outage is reported by the caller
            log.warning("could not release %d claimed inbound messages; they return when the lease runs out",
                        len(claims), exc_info=True)
