"""Every change of a reminder's state, in one place.

Each change is one conditional UPDATE that names the states it may start from (and, for a
claimed row, the claim's token), so two writers racing on one row never both win and nothing
is read and then written back: on PostgreSQL and on SQLite alike, the database decides.

    scheduled ──claim──▶ sending ──sent──▶ sent ──report──▶ delivered | failed
        ▲  │                │ │
        │  └──cancel──▶ cancelled (only from scheduled: a row being sent cannot be called back)
        │                   │ └──fail──▶ failed
        └──retry/release────┘
    a repeating reminder goes from sending back to scheduled at its next occurrence (sent or failed).
    move and edit change a scheduled row in place (a new occurrence number: a new Idempotency-Key);
    done stamps ``done_at`` on a row already sent; "delete all" cancels every scheduled row of an owner.

The functions take the open session and its transaction belongs to the caller; none commits.
Database triggers (migration 0007) keep the API's running counts (``models.ApiCount``) in step with
every insert, status change and delete of an API row made here, in the same transaction.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (ColumnElement, DateTime, and_, bindparam, case, exists, func, literal, or_, select,
                        update)
from sqlalchemy.orm import Session, make_transient_to_detached

from bot.ids import new_id
from bot.language import wording
from bot.series import Series, anchor_of, next_after
from bot.storage.models import (DELIVERY_RANK, FAILED_DELIVERY, Contact, DeliveryState, Kind, Reminder, Source,
                                Status)
from bot.storage.precompiled import StatementConnection
from bot.storage.queries import insert_ignoring_conflicts, insert_where, refuse_consents, upsert
from bot.storage.web_access import SCRUBBED, SIGN_IN_LINK, has_sign_in_link, scrub_sign_in_links
from bot.timeutil import as_utc

_ID_ATTEMPTS = 8
_T = Reminder.__table__
_C = _T.c
_CONTACTS = Contact.__table__


# --- schedule -------------------------------------------------------------------------------------

def schedule(session: Session, *, recipient: str, text: str, send_at: datetime, now: datetime,
             owner: str | None = None, zone: str = "UTC", recurrence: str | None = None,
             anchor: datetime | None = None, kind: Kind = Kind.REMINDER, source: Source = Source.SMS,
             idempotency_key: str | None = None) -> Reminder:
    """Queue one outbound message (see ``insert_scheduled``) and return it as the session's Reminder."""
    row = insert_scheduled(session, recipient=recipient, text=text, send_at=send_at, now=now, owner=owner, zone=zone,
                           recurrence=recurrence, anchor=anchor, kind=kind, source=source,
                           idempotency_key=idempotency_key)
    return _attach(session, Reminder(**row))


def insert_scheduled(session: Session, *, recipient: str, text: str, send_at: datetime, now: datetime,
                     owner: str | None = None, zone: str = "UTC", recurrence: str | None = None,
                     anchor: datetime | None = None, kind: Kind = Kind.REMINDER, source: Source = Source.SMS,
                     idempotency_key: str | None = None) -> dict[str, Any]:
    """Queue one outbound message (a reminder, a reply or a notice) under a fresh unique id; return its row.

    Each try is one ``INSERT ... ON CONFLICT (id) DO NOTHING``: an id collision draws again, with
    no savepoint round trips. A clash on ``idempotency_key`` raises IntegrityError for the caller.
    A repeating reminder is anchored on ``anchor`` (its first occurrence as a wall time in ``zone``).
    The row is a dict, not an ORM object: the REST API answers from it, and building and attaching
    a Reminder cost about a tenth of its request (profiled).
    """
    if recurrence is not None and anchor is None:
        anchor = anchor_of(send_at, zone)
    for _ in range(_ID_ATTEMPTS):
        row = _new_row(recipient=recipient, text=text, send_at=send_at, now=now, owner=owner, zone=zone,
                       recurrence=recurrence, anchor=anchor, kind=kind, source=source,
                       idempotency_key=idempotency_key)
        if insert_ignoring_conflicts(session, Reminder, row, ("id",)):
            return row
    raise RuntimeError("could not allocate a unique reminder id")


def insert_scheduled_where(connection: StatementConnection, condition: ColumnElement[bool],
                           values: dict[str, object], *, recipient: str, text: str, send_at: datetime,
                           now: datetime, kind: Kind, source: Source, zone: str = "UTC",
                           idempotency_key: str | None = None) -> dict[str, Any] | None:
    """Queue a one-off message as ``insert_scheduled`` does, but only where ``condition`` holds; return its row.

    One statement checks and inserts (``queries.insert_where``). None when the condition did not
    hold, or (rarely) the fresh id was taken: the caller then checks at leisure and inserts with
    ``insert_scheduled``.
    """
    row = _new_row(recipient=recipient, text=text, send_at=send_at, now=now, owner=None, zone=zone, recurrence=None,
                   anchor=None, kind=kind, source=source, idempotency_key=idempotency_key)
    return row if insert_where(connection, Reminder, row, condition, values) else None


def _new_row(*, recipient: str, text: str, send_at: datetime, now: datetime, owner: str | None, zone: str,
             recurrence: str | None, anchor: datetime | None, kind: Kind, source: Source,
             idempotency_key: str | None) -> dict[str, Any]:
    return dict(
        id=new_id(), kind=kind, source=source, owner=owner, recipient=recipient, text=text,
        zone=zone, recurrence=recurrence, series_anchor=anchor if recurrence else None, series_sent=0,
        send_at=send_at, due_at=send_at, status=Status.SCHEDULED, occurrence=0, attempts=0,
        claim_token=None, lease_until=None, created_at=now, sent_at=None, cancelled_at=None,
        provider_message_id=None, delivery_status=None, error=None, outbound_text=None,
        owner_notified=False, idempotency_key=idempotency_key,
    )


def _attach(session: Session, instance: Reminder) -> Reminder:
    # Written with a Core INSERT: make the object the session's persistent copy, as if loaded.
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


# --- claim, renew, release ------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A claimed row, detached from its session: what the dispatcher needs to send it."""

    id: str
    token: str
    kind: str
    source: str
    owner: str | None
    recipient: str
    text: str
    zone: str
    recurrence: str | None
    series_anchor: datetime | None
    send_at: datetime
    occurrence: int
    attempts: int  # failed attempts so far, this claim's takeover included

    @property
    def series(self) -> Series | None:
        if self.recurrence is None:
            return None
        return Series(self.recurrence, self.series_anchor or anchor_of(self.send_at, self.zone), self.zone)


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return or_(and_(_C.status == Status.SCHEDULED, _C.due_at <= now),
               and_(_C.status == Status.SENDING, _C.lease_until < now))


_CLAIMED_COLUMNS = (_C.id, _C.kind, _C.source, _C.owner, _C.recipient, _C.text, _C.zone, _C.recurrence,
                    _C.series_anchor, _C.send_at, _C.occurrence, _C.attempts)


def claim_due(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
    """Claim up to ``limit`` due rows (or rows whose lease ran out) for one new token.

    A row taken over after its lease ran out counts as a failed attempt: its claimer died or
    hung while holding it, and a row that kills every process that sends it must not loop forever.
    """
    token = secrets.token_hex(8)
    candidates = select(_C.id).where(_due(now)).order_by(_C.due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Lock the candidates first and update exactly those: inside "UPDATE ... WHERE id IN
        # (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)" PostgreSQL may run the subquery more than
        # once and claim far more than ``limit`` rows.
        ids = list(session.scalars(candidates.with_for_update(skip_locked=True)))
        if not ids:
            return []
        chosen = _C.id.in_(ids)
    else:
        chosen = _C.id.in_(candidates.scalar_subquery())  # SQLite: one statement under one write lock
    taken_over = case((_C.status == Status.SENDING, 1), else_=0)
    statement = (update(_T).where(chosen, _due(now))
                 .values(status=Status.SENDING, claim_token=token, lease_until=now + lease,
                         attempts=_C.attempts + taken_over)
                 .returning(*_CLAIMED_COLUMNS))
    rows = session.connection().execute(statement).all()
    claims = [Claim(row.id, token, row.kind, row.source, row.owner, row.recipient, row.text, row.zone,
                    row.recurrence, row.series_anchor, as_utc(row.send_at), row.occurrence, row.attempts)
              for row in rows]
    return sorted(claims, key=lambda claim: claim.send_at)


# The per-send statements, built once: Core statements, since the ORM's bulk-update path was a
# quarter of the dispatcher's CPU per send (profiled).
_HELD = and_(_C.id == bindparam("claim_id"), _C.claim_token == bindparam("held_token"),
             _C.status == Status.SENDING)
# The body is written with the renewal when none is stored yet (COALESCE keeps the first one), so
# composing it costs no extra round trip per send.
_RENEW = (update(_T).where(_HELD)
          .values(lease_until=bindparam("new_lease_until"),
                  outbound_text=func.coalesce(_C.outbound_text, bindparam("new_outbound_text")))
          .returning(_C.outbound_text))


def _held(claim: Claim) -> dict[str, object]:
    return {"claim_id": claim.id, "held_token": claim.token}


@dataclass(frozen=True)
class Held:
    """A claim whose lease was just renewed, and the body its occurrence is sent with."""

    outbound_text: str | None


def renew(session: Session, claim: Claim, lease_until: datetime, body: str | None = None) -> Held | None:
    """Extend the claim's lease and keep ``body`` as the occurrence's body unless one is stored already.

    Returns the stored body (the first attempt's, or ``body``), which every attempt of this
    occurrence sends; None when the claim was lost (taken over after its lease ran out).
    """
    row = session.connection().execute(_RENEW, {**_held(claim), "new_lease_until": lease_until,
                                                 "new_outbound_text": body}).first()
    return None if row is None else Held(row.outbound_text)


def release(session: Session, claims: list[Claim]) -> None:
    """Put claimed rows that were not sent back to ``scheduled``, for any instance to take."""
    by_token: dict[str, list[str]] = {}
    for claim in claims:
        by_token.setdefault(claim.token, []).append(claim.id)
    for token, ids in by_token.items():
        session.connection().execute(
            update(_T).where(_C.id.in_(ids), _C.claim_token == token, _C.status == Status.SENDING)
            .values(status=Status.SCHEDULED, claim_token=None, lease_until=None))


# --- outcomes of a send ---------------------------------------------------------------------------

def following(claim: Claim, now: datetime) -> datetime | None:
    """Return the series' next occurrence after this one (missed ones collapse), or None."""
    series = claim.series
    return None if series is None else next_after(series, max(as_utc(now), claim.send_at))


_SENT = dict(sent_at=bindparam("new_sent_at"), provider_message_id=bindparam("new_provider_message_id"),
             delivery_status=bindparam("new_delivery_status"), attempts=0, error=None, claim_token=None,
             lease_until=None)
_MARK_SENT = update(_T).where(_HELD).values(status=Status.SENT, series_sent=_C.series_sent + 1, **_SENT)
_MARK_SENT_AND_RESCHEDULE = update(_T).where(_HELD).values(
    status=Status.SCHEDULED, send_at=bindparam("next_send_at"), due_at=bindparam("next_send_at"),
    occurrence=_C.occurrence + 1, series_sent=_C.series_sent + 1, outbound_text=None, **_SENT)


def mark_sent(session: Session, claim: Claim, now: datetime, provider_message_id: str | None,
              next_send_at: datetime | None,
              delivery_status: DeliveryState = DeliveryState.QUEUED) -> bool:
    """Record an accepted send; a repeating reminder moves on to ``next_send_at``.

    Also remembers, for the recipient, the reminder "snooze" refers to and that they have been
    told who the bot is. False when the claim was lost meanwhile.
    """
    values: dict[str, object] = {**_held(claim), "new_sent_at": now, "new_provider_message_id": provider_message_id,
                                 "new_delivery_status": delivery_status}
    statement = _MARK_SENT
    if next_send_at is not None:
        statement = _MARK_SENT_AND_RESCHEDULE
        values["next_send_at"] = next_send_at
    connection = session.connection()
    if connection.execute(statement, values).rowcount != 1:
        return False
    forget_sign_in_link(session, claim)
    if claim.kind == Kind.REMINDER:
        row: dict[str, object] = {"number": claim.recipient, "last_reminder_id": claim.id}
        changes: dict[str, object] = {"last_reminder_id": claim.id}
        if claim.owner != claim.recipient:  # the message named who sent it: it need not again
            row["introduced_at"] = now
            changes["introduced_at"] = func.coalesce(_CONTACTS.c.introduced_at, now)
        connection.execute(upsert(session, Contact, row, changes))
    return True


_RETRY = update(_T).where(_HELD).values(
    status=Status.SCHEDULED, attempts=bindparam("new_attempts"), due_at=bindparam("new_due_at"),
    error=bindparam("new_error"), claim_token=None, lease_until=None)


def retry(session: Session, claim: Claim, attempts: int, due_at: datetime, reason: str) -> bool:
    """Put a claim back for another attempt at ``due_at``; its stored body is kept for that attempt."""
    return session.connection().execute(_RETRY, {**_held(claim), "new_attempts": attempts, "new_due_at": due_at,
                                                 "new_error": reason}).rowcount == 1


_FAIL = update(_T).where(_HELD).values(status=Status.FAILED, error=bindparam("new_error"), claim_token=None,
                                       lease_until=None, series_sent=_C.series_sent + 1)
_FAIL_AND_RESCHEDULE = update(_T).where(_HELD).values(
    status=Status.SCHEDULED, error=bindparam("new_error"), claim_token=None, lease_until=None,
    send_at=bindparam("next_send_at"), due_at=bindparam("next_send_at"), occurrence=_C.occurrence + 1,
    attempts=0, outbound_text=None, series_sent=_C.series_sent + 1)


def fail(session: Session, claim: Claim, reason: str, now: datetime, next_send_at: datetime | None) -> bool:
    """Record that this occurrence could not be sent; a repeating reminder goes on at ``next_send_at``.

    The person who set it is told once (not when they are its recipient). False when the claim
    was lost meanwhile.
    """
    values: dict[str, object] = {**_held(claim), "new_error": reason}
    statement = _FAIL
    if next_send_at is not None:
        statement = _FAIL_AND_RESCHEDULE
        values["next_send_at"] = next_send_at
    if session.connection().execute(statement, values).rowcount != 1:
        return False
    forget_sign_in_link(session, claim)
    notify_owner_once(session, claim.id, reason, now)
    return True


def notify_owner_once(session: Session, reminder_id: str, reason: str, now: datetime) -> bool:
    """Queue the "could not be delivered" notice to the reminder's owner, unless they were told before."""
    told = session.connection().execute(
        update(_T).where(_C.id == reminder_id, _C.kind == Kind.REMINDER, _C.owner.is_not(None),
                         _C.owner != _C.recipient, _C.owner_notified.is_(False))
        .values(owner_notified=True).returning(_C.owner, _C.recipient, _C.zone)).first()
    if told is None:
        return False
    schedule(session, recipient=told.owner, text=wording.delivery_failed(reminder_id, told.recipient, reason),
             send_at=now, now=now, kind=Kind.NOTICE, source=Source.BOT, zone=told.zone)
    return True


# --- what people do to their reminders ------------------------------------------------------------

@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel found: ``cancelled`` True, or the state that kept it (None when unknown to the caller)."""

    cancelled: bool
    status: Status | None = None
    text: str | None = None


def cancel(session: Session, reminder_id: str, now: datetime, number: str | None = None) -> CancelOutcome:
    """Cancel a scheduled reminder. ``number`` limits it to reminders that number set or receives.

    A row being sent (``sending``) is refused: it may already be on the wire, and it ends as
    ``sent`` with its provider id. Sent, failed and cancelled ones are final.
    """
    visible = [_C.id == reminder_id, _C.kind == Kind.REMINDER]
    if number is not None:
        visible.append(or_(_C.owner == number, _C.recipient == number))
    connection = session.connection()
    row = connection.execute(
        update(_T).where(*visible, _C.status == Status.SCHEDULED)
        .values(status=Status.CANCELLED, cancelled_at=now, claim_token=None, lease_until=None)
        .returning(_C.text)).first()
    if row is not None:
        return CancelOutcome(True, Status.CANCELLED, row.text)
    found = connection.execute(select(_C.status, _C.text).where(*visible)).first()
    if found is None:
        return CancelOutcome(False)
    return CancelOutcome(False, Status(found.status), found.text)


_SNOOZABLE = (Status.SCHEDULED, Status.SENT, Status.DELIVERED)


def snooze(session: Session, reminder_id: str, send_at: datetime, number: str | None = None) -> bool:
    """Send a one-off reminder again at ``send_at`` (snoozing twice moves it again, never sends it twice).

    ``number`` limits it to reminders that number set or receives. False when it repeats, is being
    sent, failed or was cancelled: the caller makes a copy instead.
    """
    visible = [] if number is None else [or_(_C.owner == number, _C.recipient == number)]
    return session.connection().execute(
        update(_T).where(_C.id == reminder_id, _C.kind == Kind.REMINDER, _C.recurrence.is_(None),
                         _C.status.in_(_SNOOZABLE), *visible)
        .values(status=Status.SCHEDULED, send_at=send_at, due_at=send_at, attempts=0,
                occurrence=_C.occurrence + 1, delivery_status=None, error=None, outbound_text=None,
                claim_token=None, lease_until=None)).rowcount == 1


@dataclass(frozen=True)
class ChangeOutcome:
    """What a move or an edit found: ``changed`` True, or the state that kept it (None: not the sender's).

    ``text``, ``recurrence`` and ``series_anchor`` are the row's after the change.
    """

    changed: bool
    status: Status | None = None
    text: str | None = None
    recurrence: str | None = None
    series_anchor: datetime | None = None


def _change_scheduled(session: Session, reminder_id: str, owner: str, values: dict[str, object]) -> ChangeOutcome:
    """Change a scheduled reminder ``owner`` set, in one conditional UPDATE; say what kept it otherwise.

    The occurrence number moves on, so the changed message goes out under an Idempotency-Key of
    its own and is composed afresh (an earlier attempt's stored body is dropped).
    """
    mine = (_C.id == reminder_id, _C.kind == Kind.REMINDER, _C.owner == owner)
    connection = session.connection()
    row = connection.execute(
        update(_T).where(*mine, _C.status == Status.SCHEDULED)
        .values(occurrence=_C.occurrence + 1, outbound_text=None, attempts=0, error=None, **values)
        .returning(_C.text, _C.recurrence, _C.series_anchor)).first()
    if row is not None:
        return ChangeOutcome(True, Status.SCHEDULED, row.text, row.recurrence, row.series_anchor)
    found = connection.execute(select(_C.status, _C.text).where(*mine)).first()
    return ChangeOutcome(False) if found is None else ChangeOutcome(False, Status(found.status), found.text)


def move(session: Session, reminder_id: str, owner: str, send_at: datetime, zone: str, *,
         recurrence: str | None = None, anchor: datetime | None = None) -> ChangeOutcome:
    """Reschedule ``owner``'s scheduled reminder to ``send_at`` (read in ``zone``).

    With ``recurrence`` it repeats by that rule from there. A series moved without a new rule keeps
    its rule and starts again from the new time ("move k3x9 to 6pm" moves every later one too):
    moving only one occurrence earlier would send the next one the same day.
    """
    values: dict[str, object] = {"send_at": send_at, "due_at": send_at, "zone": zone}
    if recurrence is not None:
        values.update(recurrence=recurrence, series_sent=0, series_anchor=anchor or anchor_of(send_at, zone))
    else:
        values["series_anchor"] = case((_C.recurrence.is_not(None), literal(anchor_of(send_at, zone), DateTime())),
                                       else_=None)
    return _change_scheduled(session, reminder_id, owner, values)


def edit_text(session: Session, reminder_id: str, owner: str, text: str) -> ChangeOutcome:
    """Rewrite the text of ``owner``'s scheduled reminder."""
    return _change_scheduled(session, reminder_id, owner, {"text": text})


def mark_done(session: Session, reminder_id: str, number: str, now: datetime) -> bool:
    """Record that ``number`` did what the reminder, already sent to it, asked; False when none such.

    For a series this marks the occurrence sent last (``done_at >= sent_at``); the next one still comes.
    """
    return session.connection().execute(
        update(_T).where(_C.id == reminder_id, _C.kind == Kind.REMINDER, _C.sent_at.is_not(None),
                         or_(_C.owner == number, _C.recipient == number))
        .values(done_at=now)).rowcount == 1


def cancel_all(session: Session, owner: str, now: datetime) -> int:
    """Cancel every scheduled reminder ``owner`` set, in one UPDATE; return how many.

    Rows being sent are left alone, as a single cancel leaves them.
    """
    return session.connection().execute(
        update(_T).where(_C.owner == owner, _C.kind == Kind.REMINDER, _C.status == Status.SCHEDULED)
        .values(status=Status.CANCELLED, cancelled_at=now, claim_token=None, lease_until=None)
        .execution_options(preserve_rowcount=True)).rowcount


# --- the web page (issue 17): sign-in links forgotten once sent, the operator's retry ---------------

def forget_sign_in_link(session: Session, claim: Claim) -> bool:
    """Scrub the token of a texted sign-in link from the row (text and stored body) once it is sent or failed.

    The link goes out in the reply to "web" (a ``reply`` row); after that the token lives only on
    the person's phone and as a hash in ``web_tokens``. A reminder's own text is never touched.
    """
    if claim.kind != Kind.REPLY or not has_sign_in_link(claim.text):
        return False
    stored_body = _C.outbound_text
    for match in SIGN_IN_LINK.finditer(claim.text):  # REPLACE of NULL is NULL: an unsent body stays none
        stored_body = func.replace(stored_body, match.group(1), SCRUBBED)
    return session.connection().execute(
        update(_T).where(_C.id == claim.id, _C.kind == Kind.REPLY)
        .values(text=scrub_sign_in_links(claim.text), outbound_text=stored_body)).rowcount == 1


def retry_failed(session: Session, reminder_id: str, now: datetime) -> bool:
    """Send a failed reminder again now (the operator's retry): failed -> scheduled, in one conditional UPDATE.

    The occurrence number moves on, so the retry goes out under an Idempotency-Key of its own (the
    provider would answer the failed one's again) with a freshly composed body (it says it is late).
    The owner was told of the failure already and is not told again.
    """
    return session.connection().execute(
        update(_T).where(_C.id == reminder_id, _C.kind == Kind.REMINDER, _C.status == Status.FAILED)
        .values(status=Status.SCHEDULED, due_at=now, attempts=0, occurrence=_C.occurrence + 1, error=None,
                delivery_status=None, provider_message_id=None, outbound_text=None, claim_token=None,
                lease_until=None)).rowcount == 1


# --- delivery reports -----------------------------------------------------------------------------

_RANK_OF_STORED = case(*((_C.delivery_status == state.value, rank) for state, rank in DELIVERY_RANK.items()),
                       else_=-1)


def record_delivery(session: Session, provider_message_id: str, report: str, now: datetime,
                    detail: str | None = None) -> bool:
    """Store a provider's delivery report on the reminder it belongs to; False if no reminder has that id.

    A report only moves the state forward (queued < sending < sent < unconfirmed < delivered or
    failed): a late "sent" never overwrites "delivered", and the first final report stays. A
    final report also settles a one-off reminder's status; a repeating one is already scheduled
    again. A failure tells the owner once; ``detail`` (the provider's error code) goes with it.
    """
    try:
        state = DeliveryState(report)
    except ValueError:
        state = None
    rank = DELIVERY_RANK.get(state, 0)  # type: ignore[arg-type]
    failed = state in FAILED_DELIVERY
    final_status = Status.DELIVERED if state == DeliveryState.DELIVERED else Status.FAILED if failed else None
    values: dict[str, object] = {"delivery_status": report}
    if final_status is not None:
        values["status"] = case((and_(_C.status.in_((Status.SENT, Status.DELIVERED)), _C.recurrence.is_(None)),
                                 literal(final_status.value)), else_=_C.status)
    reason = f"delivery {report}" + (f" ({detail})" if detail else "")
    if failed:
        values["error"] = reason
    connection = session.connection()
    updated = connection.execute(
        update(_T).where(_C.provider_message_id == provider_message_id, _RANK_OF_STORED < rank)
        .values(**values).returning(_C.id)).first()
    if updated is None:
        return bool(connection.execute(select(exists().where(_C.provider_message_id == provider_message_id))).scalar())
    if failed:
        notify_owner_once(session, updated.id, reason, now)
    return True


# --- opt-outs: the owners are told at once ----------------------------------------------

def record_opt_out(session: Session, number: str, now: datetime) -> None:
    """Record that the provider refused to send to ``number`` because it opted out.

    A STOP the webhook never saw (sent before this bot, or lost) still binds: Telnyx and Twilio refuse
    every later message (40300, 21610). The contact is then opted out as if it had texted STOP here:
    its consents are refused and the owners of its scheduled reminders are told, once (each step
    is idempotent, so the opt-out confirmation refused the same way changes nothing more).
    """
    session.connection().execute(upsert(session, Contact, {"number": number, "opted_out_at": now},
                                        {"opted_out_at": func.coalesce(_CONTACTS.c.opted_out_at, now)}))
    refuse_consents(session, number, now)
    tell_owners_of_opt_out(session, number, now)


def tell_owners_of_opt_out(session: Session, recipient: str, now: datetime) -> list[str]:
    """Tell each owner of reminders scheduled for ``recipient`` (who just opted out) once; return them.

    One notice per owner, however many reminders they have for that number. The reminders stay
    scheduled: at their time the dispatcher fails them as ``opted_out`` (unless the recipient opted
    back in), and ``owner_notified`` keeps that from telling the owner a second time.
    """
    rows = session.connection().execute(
        update(_T).where(_C.recipient == recipient, _C.kind == Kind.REMINDER, _C.status == Status.SCHEDULED,
                         _C.owner.is_not(None), _C.owner != recipient)
        .values(owner_notified=True).returning(_C.owner)).all()
    pending = Counter(row.owner for row in rows)
    for owner, count in sorted(pending.items()):
        schedule(session, recipient=owner, text=wording.recipient_opted_out_notice(recipient, count), send_at=now,
                 now=now, kind=Kind.NOTICE, source=Source.BOT)
    return sorted(pending)
