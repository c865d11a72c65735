"""Reading reminders and contacts, and writing contacts and inbound messages.

A reminder's state changes only in bot.storage.lifecycle. Every function takes the session it works in.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (ColumnElement, Connection, Dialect, Insert, Row, Select, Table, and_, bindparam, exists, func,
                        or_, select, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.language.commands import Question, QuestionKind, Remind
from bot.storage.precompiled import Precompiled, StatementConnection
from bot.storage.models import (API_COUNT_DAY_BUCKET, API_COUNT_HOUR_BUCKET, PENDING, ApiCount, Base, Consent,
                                ConsentState, Contact, Conversation, InboundMessage, Kind, Reminder, Source, Status)

_Model = TypeVar("_Model", bound=Base)
log = logging.getLogger(__name__)


def dialect_module(dialect_name: str):  # type: ignore[no-untyped-def]
    """Return SQLAlchemy's dialect module whose ``insert`` knows ON CONFLICT (PostgreSQL or SQLite)."""
    return postgresql if dialect_name == "postgresql" else sqlite


@lru_cache(maxsize=None)
def _insert_ignoring_conflicts(dialect_name: str, table: Table, conflict_columns: tuple[str, ...]) -> Insert:
    dialect = dialect_module(dialect_name)
    # rowcount says whether the row went in; SQLAlchemy keeps it for INSERT only when asked to.
    return (dialect.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns) or None)
            .execution_options(preserve_rowcount=True))


def insert_ignoring_conflicts(session: Session | Connection, model: type[Base], row: dict[str, object],
                              conflict_columns: tuple[str, ...] = ()) -> bool:
    """INSERT ``row`` ... ON CONFLICT [(columns)] DO NOTHING; say whether the row went in.

    A Core statement built once, executed on the session's connection (or on a Core connection,
    for a hot path that needs no Session): the ORM's bulk-insert path cost three times as much per
    row (profiled on the webhook).
    """
    connection = session if isinstance(session, Connection) else session.connection()
    statement = _insert_ignoring_conflicts(connection.dialect.name, model.__table__, conflict_columns)
    return connection.execute(statement, row).rowcount == 1


@lru_cache(maxsize=64)
def _insert_where(dialect: Dialect, table: Table, columns: tuple[str, ...],
                  condition: ColumnElement[bool]) -> Precompiled:
    values = select(*(bindparam(name, type_=table.c[name].type) for name in columns)).where(condition)
    insert = dialect_module(dialect.name).insert(table).from_select(columns, values).on_conflict_do_nothing()
    return Precompiled(insert, dialect)


def insert_where(connection: StatementConnection, model: type[Base], row: dict[str, object],
                 condition: ColumnElement[bool], values: dict[str, object]) -> bool:
    """INSERT ``row`` only where ``condition`` holds (``values`` binds its parameters), in one statement.

    ``INSERT ... SELECT <row> WHERE <condition> ON CONFLICT DO NOTHING``: a check and its insert in
    one round trip. False when the condition did not hold or the row clashed with a stored one.
    Columns whose value is None are left out (they default to NULL), so that PostgreSQL is never
    asked to type a bare NULL in a SELECT list. ``condition`` must be built once (it keys a cache):
    the statement is compiled once per dialect, columns and condition (``bot.storage.precompiled``).
    It takes a Core connection or the driver's (``precompiled.StatementConnection``): on a hot path
    an ORM Session's own transaction costs a fifth of the statement (profiled).
    """
    columns = tuple(name for name, value in row.items() if value is not None)
    statement = _insert_where(connection.dialect, model.__table__, columns, condition)
    return statement.rowcount(connection, {**row, **values}) == 1


def upsert(session: Session, model: type[Base], row: dict[str, object], changes: dict[str, object]) -> Insert:
    """Return INSERT ... ON CONFLICT (primary key) DO UPDATE SET ``changes``."""
    return dialect_module(session.get_bind().dialect.name).insert(model).values(**row).on_conflict_do_update(
        index_elements=list(model.__table__.primary_key.columns), set_=changes)


def find_by_idempotency_key(session: Session, key: str) -> Reminder | None:
    """Return the reminder created under an API Idempotency-Key, if any."""
    return session.scalars(select(Reminder).where(Reminder.idempotency_key == key)).first()


_R = Reminder.__table__.c


def pending_reminders(session: Session, number: str, limit: int, offset: int = 0) -> tuple[list[Row], int]:
    """Return the pending reminders visible to ``number``, soonest first (at most ``limit`` from ``offset``), and their count.

    Rows of the columns a listing shows (``id, send_at, text, owner, recipient, source, recurrence,
    series_anchor, zone``), not ORM objects.
    Core reads on the session's connection do not flush pending ORM changes: call this before changing
    reminders through the ORM in the same transaction, as the handlers do.
    """
    # A number sees the reminders it set and those addressed to it (set by someone else or over
    # the API): the recipient can always see what is coming and cancel it.
    condition = (or_(_R.owner == number, _R.recipient == number), _R.kind == Kind.REMINDER,
                 _R.status.in_(PENDING))
    connection = session.connection()
    rows = list(connection.execute(select(_R.id, _R.send_at, _R.text, _R.owner, _R.recipient, _R.source,
                                          _R.recurrence, _R.series_anchor, _R.zone)
                                   .where(*condition).order_by(_R.send_at, _R.id).offset(offset).limit(limit)))
    if len(rows) < limit and (rows or offset == 0):  # the page holds the rest: no need to count
        return rows, offset + len(rows)
    total = connection.execute(select(func.count()).select_from(Reminder.__table__).where(*condition)).scalar()
    return rows, total or 0


def recently_sent(session: Session, owner: str, since: datetime, limit: int) -> list[Row]:
    """Return the owner's reminders last sent (or failed) since ``since``, newest first.

    Rows of ``id, recipient, status, delivery_status, error, text, sent_at, done_at``.
    """
    return list(session.connection().execute(
        select(_R.id, _R.recipient, _R.status, _R.delivery_status, _R.error, _R.text, _R.sent_at, _R.done_at).where(
            _R.owner == owner, _R.kind == Kind.REMINDER,
            or_(_R.sent_at >= since, and_(_R.status == Status.FAILED, _R.created_at >= since)),
        ).order_by(func.coalesce(_R.sent_at, _R.send_at).desc(), _R.id).limit(limit)  # a failure may have no sent_at
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


def opted_out(session: Session, number: str) -> bool:
    """Say whether ``number`` has opted out (texted STOP or the like, and not START since)."""
    contact = contact_state(session, number)
    return contact is not None and contact.opted_out_at is not None


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
    # Both counts read the same rows (the owner index); one statement instead of two per "remind",
    # built once and run on the connection (through the ORM it cost three times the round trip).
    pending, created = session.connection().execute(
        _COUNT_PENDING_AND_CREATED, {"count_owner": owner, "count_since": since}).one()
    return pending or 0, created or 0


_COUNT_PENDING_AND_CREATED = (
    select(func.count().filter(_R.status.in_(PENDING)), func.count().filter(_R.created_at >= bindparam("count_since")))
    .where(_R.owner == bindparam("count_owner"), _R.kind == Kind.REMINDER))


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


# --- consent (THIRD_PARTY_CONSENT=ask): one row per (sender, recipient) ----------------------------

_K = Consent.__table__.c
_READ_CONSENT = select(_K.state).where(_K.sender == bindparam("consent_sender"),
                                       _K.recipient == bindparam("consent_recipient"))


def consent_state(session: Session, sender: str, recipient: str) -> ConsentState | None:
    """Return where ``recipient`` stands on ``sender``'s reminders, or None if never asked."""
    state = session.connection().execute(
        _READ_CONSENT, {"consent_sender": sender, "consent_recipient": recipient}).scalar()
    return ConsentState(state) if state is not None else None


def request_consent(session: Session, sender: str, recipient: str, now: datetime) -> bool:
    """Record that ``recipient`` is asked about ``sender``'s reminders; False when a request or a YES stands.

    True means the caller sends the one request. A refused pair is asked again: the recipient
    texted START since (an opted-out recipient is refused before this is called).
    """
    if insert_ignoring_conflicts(session, Consent, dict(sender=sender, recipient=recipient,
                                                        state=ConsentState.REQUESTED, requested_at=now,
                                                        answered_at=None)):
        return True
    return session.connection().execute(
        update(Consent.__table__).where(_K.sender == sender, _K.recipient == recipient,
                                        _K.state == ConsentState.REFUSED)
        .values(state=ConsentState.REQUESTED, requested_at=now, answered_at=None)).rowcount == 1


def grant_consents(session: Session, recipient: str, now: datetime) -> list[str]:
    """Record a YES from ``recipient`` to every request standing for it; return the senders, sorted."""
    rows = session.connection().execute(
        update(Consent.__table__).where(_K.recipient == recipient, _K.state == ConsentState.REQUESTED)
        .values(state=ConsentState.GRANTED, answered_at=now).returning(_K.sender)).all()
    return sorted(row.sender for row in rows)


def refuse_consents(session: Session, recipient: str, now: datetime) -> None:
    """Record an opt-out of ``recipient``: every request and YES for it is refused."""
    session.connection().execute(
        update(Consent.__table__).where(_K.recipient == recipient,
                                        _K.state.in_((ConsentState.REQUESTED, ConsentState.GRANTED)))
        .values(state=ConsentState.REFUSED, answered_at=now))


# --- the API's own limits: every API message counts, read from the source indexes ----------------

_FROM_API = _R.source == Source.API


def _reaches(condition: object, limit_name: str):  # type: ignore[no-untyped-def]
    # "Is there a row at position ``limit``?" reads at most ``limit`` index entries and stops there,
    # and is cheaper than a count stopped at the limit (51 against 88 us for 2,000 rows on SQLite:
    # no subquery to count). The column is an indexed one so that the read stays in the index.
    return exists(select(_R.source).where(condition).limit(1).offset(bindparam(limit_name)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ApiUsage:
    """What one more API message to a number needs to know: its consent, and which API limits are reached.

    ``day_full`` says the API created as many messages as the recipients-per-day limit in the last
    day, and the recipient is not among the numbers it messaged (the limit does not apply to those).
    Fewer messages than the limit means fewer numbers; only when it is reached are the numbers
    counted (``count_api_recipients_since``).
    """

    recipient_opted_out: bool
    pending_full: bool
    hour_full: bool
    day_full: bool


# The recipient's own messages are found by the recipient index: on ``source`` (``|| ''`` makes
# it unusable for an index) SQLite's planner walked the (source, created_at) index instead,
# 300 us per request at 10,000 rows against 15 us.
_MESSAGED_TODAY = exists().where(_R.recipient == bindparam("usage_recipient"), _R.source + "" == Source.API,
                                 _R.created_at >= bindparam("day_ago"))
_N = ApiCount.__table__.c


def _counted(counter: str, first_bucket: str | None = None):  # type: ignore[no-untyped-def]
    # The trigger-kept count (migration 0007): a few rows of the api_counts primary key.
    condition = _N.counter == counter
    if first_bucket is not None:
        condition = and_(condition, _N.starts >= bindparam(first_bucket))
    return select(func.coalesce(func.sum(_N.n), 0)).where(condition).scalar_subquery()


_OPTED_OUT = exists().where(_C.number == bindparam("usage_recipient"), _C.opted_out_at.is_not(None))
_PENDING_COUNT = _counted("pending")
_HOUR_COUNT = _counted("hour", "hour_bucket")
_DAY_COUNT = _counted("day", "day_bucket")

# One light statement reads the consent and the trigger-kept counts; a limit is checked row by row
# (``_reaches``) only when its count says it may be reached, so that a count that is only an upper
# bound (the windows) never refuses on its own. The light statement has few parameters on purpose:
# SQLAlchemy's processing of twenty, and of an expanding IN, cost ten times SQLite's own work (profiled).
_API_COUNTS = select(
    _OPTED_OUT.label("opted_out"),
    _PENDING_COUNT.label("pending"),
    _HOUR_COUNT.label("hour"),
    _DAY_COUNT.label("day"),
    _MESSAGED_TODAY.label("messaged_today"),
)
_PENDING_REACHES = select(_reaches(and_(_FROM_API, _R.status.in_(PENDING)), "at"))
_CREATED_REACHES = select(_reaches(and_(_FROM_API, _R.created_at >= bindparam("since")), "at"))

# The same counts as a condition, for an INSERT that checks as it goes in (``insert_where``):
# true when the number did not opt out and every count is under its limit. False does not mean
# refused: a window count is an upper bound, so then ``api_usage`` decides, row by row.
API_HAS_ROOM = and_(
    ~_OPTED_OUT,
    _PENDING_COUNT < bindparam("max_pending"),
    _HOUR_COUNT < bindparam("max_new_per_hour"),
    or_(_MESSAGED_TODAY, _DAY_COUNT < bindparam("max_recipients_per_day")),
)


def api_room_values(recipient: str, now: datetime, *, max_pending: int, max_new_per_hour: int,
                    max_recipients_per_day: int) -> dict[str, object]:
    """Return the parameters of API_HAS_ROOM (and of the counts ``api_usage`` reads) for one more message."""
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    return {
        "usage_recipient": recipient, "day_ago": day_ago,
        # The buckets holding the window's start: their counts begin a little earlier, never later.
        "hour_bucket": int(hour_ago.timestamp()) // API_COUNT_HOUR_BUCKET,
        "day_bucket": int(day_ago.timestamp()) // API_COUNT_DAY_BUCKET,
        "max_pending": max_pending, "max_new_per_hour": max_new_per_hour,
        "max_recipients_per_day": max_recipients_per_day,
    }


def api_usage(session: Session, recipient: str, now: datetime, *, max_pending: int, max_new_per_hour: int,
              max_recipients_per_day: int) -> ApiUsage:
    """Read what the API's opt-out and limit checks need for one more message to ``recipient``.

    One statement under every limit; one more for each limit that may be reached.
    """
    connection = session.connection()
    counts = connection.execute(_API_COUNTS, api_room_values(
        recipient, now, max_pending=max_pending, max_new_per_hour=max_new_per_hour,
        max_recipients_per_day=max_recipients_per_day)).one()

    def reaches(statement: Select[Any], limit: int, since: datetime | None = None) -> bool:
        # Offsets count from 0: the row at offset limit - 1 is the limit-th.
        return bool(connection.execute(statement, {"at": limit - 1, "since": since}).scalar())

    return ApiUsage(
        recipient_opted_out=bool(counts.opted_out),
        pending_full=counts.pending >= max_pending and reaches(_PENDING_REACHES, max_pending),
        hour_full=(counts.hour >= max_new_per_hour
                   and reaches(_CREATED_REACHES, max_new_per_hour, now - timedelta(hours=1))),
        # A number messaged today is never a new one.
        day_full=(not counts.messaged_today and counts.day >= max_recipients_per_day
                  and reaches(_CREATED_REACHES, max_recipients_per_day, now - timedelta(days=1))),
    )


def count_api_recipients_since(session: Session, since: datetime) -> int:
    """Count the distinct numbers the API created messages for since ``since``.

    ``count(DISTINCT ...)`` reads only the (source, created_at, recipient) index; a DISTINCT
    subquery with a LIMIT led SQLite's planner to walk the whole recipient index instead.
    """
    return session.connection().execute(select(func.count(func.distinct(_R.recipient))).where(
        _FROM_API, _R.created_at >= since)).scalar() or 0


def soonest_api_due(session: Session) -> datetime | None:
    """Return when the API's soonest pending message is due: a slot frees up when it goes out."""
    return session.connection().execute(select(func.min(_R.due_at)).where(_FROM_API, _R.status.in_(PENDING))).scalar()


def oldest_api_created_since(session: Session, since: datetime) -> datetime | None:
    """Return when the API's oldest message created since ``since`` was created."""
    return session.connection().execute(
        select(func.min(_R.created_at)).where(_FROM_API, _R.created_at >= since)).scalar()


def oldest_api_recipient_since(session: Session, since: datetime) -> datetime | None:
    """Of the numbers the API messaged since ``since``, return the earliest time one was last messaged.

    That number leaves a per-day count first: a day after this time.
    """
    # Grouping on ``recipient || ''`` rather than the bare column keeps SQLite's planner on the
    # (source, created_at, recipient) index: on the column it walked the whole recipient index.
    latest = func.max(_R.created_at).label("latest")
    per_recipient = (select(latest).where(_FROM_API, _R.created_at >= since)
                     .group_by(_R.recipient + "").subquery())
    return session.connection().execute(select(func.min(per_recipient.c.latest))).scalar()


# --- conversations (issue 14): the question awaiting an answer, the list page, what a number can see ---

_V = Conversation.__table__.c


def _moment_to_json(moment: datetime) -> dict[str, Any]:
    # The zone's name, not only the offset: a confirmation and a series are read in the zone itself.
    zone = moment.tzinfo.key if isinstance(moment.tzinfo, ZoneInfo) else None
    return {"at": moment.isoformat(), "zone": zone}


def _moment_from_json(value: dict[str, Any]) -> datetime:
    moment = datetime.fromisoformat(value["at"])
    return moment.astimezone(ZoneInfo(value["zone"])) if value.get("zone") else moment


def question_to_json(question: Question) -> str:
    """Render a Question as the JSON stored in ``conversations.question`` (``asked_at`` has a column of its own)."""
    options = [{"to": option.to, "send_at": _moment_to_json(option.send_at), "text": option.text,
                "recurrence": option.recurrence,
                "anchor": option.anchor.isoformat() if option.anchor is not None else None}
               for option in question.options]
    return json.dumps({"kind": question.kind, "options": options}, ensure_ascii=False, separators=(",", ":"))


def question_from_json(value: str, asked_at: datetime) -> Question:
    """Read a Question stored by ``question_to_json``; raises ValueError (or KeyError, TypeError) on anything else."""
    body = json.loads(value)
    options = tuple(Remind(to=option["to"], send_at=_moment_from_json(option["send_at"]), text=option["text"],
                           recurrence=option.get("recurrence"),
                           anchor=datetime.fromisoformat(option["anchor"]) if option.get("anchor") else None)
                    for option in body["options"])
    return Question(kind=QuestionKind(body["kind"]), asked_at=asked_at, options=options)


def load_question(session: Session, number: str) -> Question | None:
    """Return the question ``number`` was asked and has not answered yet, or None."""
    row = session.connection().execute(select(_V.question, _V.asked_at).where(_V.number == number)).first()
    return _question_of(row.question, row.asked_at) if row is not None else None


def _question_of(stored: str | None, asked_at: datetime | None) -> Question | None:
    if stored is None or asked_at is None:
        return None
    try:
        return question_from_json(stored, asked_at)
    except (ValueError, KeyError, TypeError):  # written by another version, or damaged: ask again rather than fail
        log.warning("ignoring a stored question that cannot be read")
        return None


_READ_CONTACT_AND_QUESTION = (
    select(_C.number, _C.timezone, _C.opted_out_at, _C.refused_at, _V.question, _V.asked_at)
    .select_from(Contact.__table__.outerjoin(Conversation.__table__, _V.number == _C.number))
    .where(_C.number == bindparam("number")))


def contact_and_question(session: Session, number: str) -> tuple[ContactState | None, Question | None]:
    """Return ``contact_state`` and ``load_question`` of ``number`` in one round trip (an inbound SMS needs both)."""
    row = session.connection().execute(_READ_CONTACT_AND_QUESTION, {"number": number}).first()
    if row is None:
        return None, None
    return ContactState(row.number, row.timezone, row.opted_out_at, row.refused_at), _question_of(row.question,
                                                                                                   row.asked_at)


def store_question(session: Session, number: str, question: Question | None, now: datetime) -> None:
    """Keep ``question`` as the one ``number`` is asked (None: no question), whichever instance hears the answer."""
    values: dict[str, object] = {
        "question": question_to_json(question) if question is not None else None,
        "asked_at": question.asked_at if question is not None else None, "updated_at": now}
    session.connection().execute(upsert(session, Conversation, {"number": number, "list_offset": 0, **values}, values))


def list_offset(session: Session, number: str) -> int:
    """Return where the next "more" starts in ``number``'s list (0: no list shown, or it was shown in full)."""
    return session.connection().execute(select(_V.list_offset).where(_V.number == number)).scalar() or 0


def store_list_offset(session: Session, number: str, offset: int, now: datetime) -> None:
    """Remember where the next "more" starts in ``number``'s list."""
    values: dict[str, object] = {"list_offset": offset, "updated_at": now}
    session.connection().execute(upsert(session, Conversation, {
        "number": number, "question": None, "asked_at": None, **values}, values))


def visible_reminder(session: Session, reminder_id: str, number: str) -> Row | None:
    """Return the reminder ``number`` set or receives with this id (``id, status, recurrence, sent_at, text,
    owner, recipient``), or None: someone else's looks the same as none."""
    return session.connection().execute(
        select(_R.id, _R.status, _R.recurrence, _R.sent_at, _R.text, _R.owner, _R.recipient).where(
            _R.id == reminder_id, _R.kind == Kind.REMINDER, or_(_R.owner == number, _R.recipient == number))).first()


def count_scheduled_owned(session: Session, owner: str) -> int:
    """Count the reminders ``owner`` set that are still scheduled (what "delete all" would delete)."""
    return session.connection().execute(select(func.count()).select_from(Reminder.__table__).where(
        _R.owner == owner, _R.kind == Kind.REMINDER, _R.status == Status.SCHEDULED)).scalar() or 0


def count_pending_to(session: Session, recipient: str) -> int:
    """Count the reminders still to go out to ``recipient``, whoever set them."""
    return session.connection().execute(select(func.count()).select_from(Reminder.__table__).where(
        _R.recipient == recipient, _R.kind == Kind.REMINDER, _R.status.in_(PENDING))).scalar() or 0


def skipped_while_opted_out(session: Session, recipient: str, since: datetime, until: datetime,
                            limit: int) -> tuple[list[Row], int]:
    """Return reminders to ``recipient`` that fell due between ``since`` and ``until`` and failed as opted out.

    The first ``limit`` by due time (``id, text``) and how many there were.
    """
    condition = (_R.recipient == recipient, _R.kind == Kind.REMINDER, _R.status == Status.FAILED,
                 _R.error == "opted_out", _R.send_at >= since, _R.send_at <= until)
    connection = session.connection()
    rows = list(connection.execute(select(_R.id, _R.text).where(*condition).order_by(_R.send_at, _R.id).limit(limit)))
    if len(rows) < limit:
        return rows, len(rows)
    total = connection.execute(select(func.count()).select_from(Reminder.__table__).where(*condition)).scalar()
    return rows, total or 0
