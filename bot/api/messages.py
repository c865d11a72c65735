"""Scheduled messages as the REST API sees them: create, list, get and cancel.

API rows live in the same reminders table as the SMS commands (``kind=reminder``,
``source="api"``, no owner), so a reminder set by SMS is listed and cancellable here
and the other way round. Nothing here knows about HTTP: the caller validates the
JSON shapes and maps the exceptions below to responses.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Union
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage import queries
from bot.language.commands import MAX_DAYS_AHEAD, MAX_TEXT_LENGTH, Ask, Remind
from bot.language.commands import Error as ParseError
from bot.language import wording
from bot.language.segments import MAX_SEGMENTS, segment_count
from bot.language.when import ceil_second
from bot.storage.db import SessionFactory, engine_of
from bot.storage.group_commit import runner_for
from bot.ids import is_valid_id
from bot.storage import lifecycle
from bot.storage.models import Kind, Reminder, Source, Status
from bot.phones import normalize_number
from bot.settings import Settings
from bot.timeutil import as_utc

MAX_MESSAGE_LENGTH = MAX_TEXT_LENGTH  # characters, Telnyx's limit for one multi-part SMS
MAX_AHEAD = timedelta(days=MAX_DAYS_AHEAD)
MIN_MINUTES = 1
MAX_MINUTES = MAX_DAYS_AHEAD * 24 * 60
MAX_WHEN_LENGTH = 200
MAX_ZONE_LENGTH = 64
MAX_IDEMPOTENCY_KEY_LENGTH = 200
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
STATUSES = tuple(status.value for status in Status)
SOURCE = Source.API
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # the OpenAPI document's pattern for to and number


class InvalidRequest(Exception):
    """A request value the domain refuses; ``field`` names it in the caller's terms."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request."""

    def __init__(self, reminder_id: str) -> None:
        super().__init__(reminder_id)
        self.reminder_id = reminder_id


class NotCancellable(Exception):
    """The reminder is being sent right now, or already sent, delivered, failed or cancelled."""

    def __init__(self, reminder_id: str, status: str) -> None:
        super().__init__(status)
        self.reminder_id = reminder_id
        self.status = status


# How a request says when to send. Each resolves to an instant given the request's "now",
# so a retried request can be checked against the job it created (see _same_request).
@dataclass(frozen=True)
class At:
    """At this instant (``send_at``)."""

    instant: datetime


@dataclass(frozen=True)
class After:
    """This many minutes after the request (``minutes``)."""

    minutes: int


@dataclass(frozen=True)
class When:
    """A natural phrase ("tomorrow 9am") read in ``zone`` (``when`` and ``tz``)."""

    phrase: str
    zone: str


Timing = Union[At, After, When]


@dataclass(frozen=True)
class NewMessage:
    """A validated request to schedule ``text`` to ``recipient``."""

    recipient: str
    text: str
    timing: Timing
    time_field: str  # the request field the timing came from, for errors


@dataclass(frozen=True)
class Job:
    """What a POST answers with about the job it created or found: no ORM object, for speed."""

    id: str
    status: str
    send_at: datetime
    recipient: str

    @classmethod
    def of(cls, reminder: Reminder) -> "Job":
        return cls(reminder.id, reminder.status, reminder.send_at, reminder.recipient)


@dataclass(frozen=True)
class Created:
    """The job a POST answers with; ``replayed`` when an Idempotency-Key matched an earlier one."""

    reminder: Job
    replayed: bool


# --- consent and the API's own limits ----------------------------------------------------

class RecipientOptedOut(Exception):
    """The recipient opted out (texted STOP or the like): nothing is scheduled for them until they text START."""

    def __init__(self, recipient: str) -> None:
        super().__init__(recipient)
        self.recipient = recipient


class ApiLimitReached(Exception):
    """One of the API's own limits is reached; ``retry_after`` (seconds) is when it clears, if known."""

    def __init__(self, setting: str, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.setting = setting
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class ApiLimits:
    """The API is an owner like any sender: its messages, all together, count against these."""

    max_new_per_hour: int
    max_pending: int
    max_recipients_per_day: int
    # A message must go out in MAX_SEGMENTS with its label, unless AUTO_CHUNK sends it in parts.
    auto_chunk: bool = False
    brand_name: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> "ApiLimits":
        return cls(settings.api_max_new_per_hour, settings.api_max_pending, settings.api_max_recipients_per_day,
                   settings.auto_chunk, settings.brand_name)

    def counted(self) -> dict[str, int]:
        """The three counted limits, as ``queries.api_usage`` and ``queries.api_room_values`` take them."""
        return {"max_pending": self.max_pending, "max_new_per_hour": self.max_new_per_hour,
                "max_recipients_per_day": self.max_recipients_per_day}


def check_segments(text: str, limits: ApiLimits, field: str = "message") -> None:
    """Refuse a text that would take more than MAX_SEGMENTS SMS segments with the label it may get."""
    if limits.auto_chunk:
        return
    segments = segment_count(wording.api_prefix(True, limits.brand_name) + text)
    if segments > MAX_SEGMENTS:
        raise InvalidRequest(
            "message_too_long", f"{field} would take {segments} SMS segments to send with its label; the most is "
            f"{MAX_SEGMENTS} (153 GSM-7 characters each, or 67 when one character, like an emoji, needs UCS-2).",
            field)


def check_recipient(session: Session, recipient: str) -> None:
    """Refuse a message for a number that opted out, when it is scheduled rather than when it falls due."""
    if queries.opted_out(session, recipient):
        raise RecipientOptedOut(recipient)


def check_recipient_and_limits(session: Session, limits: ApiLimits, recipient: str, now: datetime) -> None:
    """Refuse one more API message to ``recipient``: RecipientOptedOut, or ApiLimitReached over a limit.

    One statement reads the consent and the trigger-kept counts (``queries.api_usage``); a limit
    whose count may be reached is then counted row by row, reading no further than the limit. The
    queries that say when a limit clears run only on refusal.
    """
    usage = queries.api_usage(session, recipient, now, **limits.counted())
    if usage.recipient_opted_out:
        raise RecipientOptedOut(recipient)
    if usage.pending_full:
        raise ApiLimitReached(
            "API_MAX_PENDING", f"The API already has {limits.max_pending} messages waiting to be sent, the most "
            "API_MAX_PENDING allows; try again once some have gone out.",
            _seconds_until(queries.soonest_api_due(session), now))
    hour_ago = now - timedelta(hours=1)
    if usage.hour_full:
        # A slot frees up an hour after the oldest of the last hour's messages.
        oldest = queries.oldest_api_created_since(session, hour_ago)
        retry_after = _seconds_until(oldest + timedelta(hours=1) if oldest else None, now)
        raise ApiLimitReached(
            "API_MAX_NEW_PER_HOUR", f"The API may schedule at most {limits.max_new_per_hour} messages an hour "
            f"(API_MAX_NEW_PER_HOUR); try again in {retry_after or 60} seconds.", retry_after)
    day_ago = now - timedelta(days=1)
    if (usage.day_full
            and queries.count_api_recipients_since(session, day_ago) >= limits.max_recipients_per_day):
        # A number leaves the day's count a day after its latest message; the earliest of those frees a slot.
        last = queries.oldest_api_recipient_since(session, day_ago)
        retry_after = _seconds_until(last + timedelta(days=1) if last else None, now)
        raise ApiLimitReached(
            "API_MAX_RECIPIENTS_PER_DAY", f"The API may message at most {limits.max_recipients_per_day} different "
            f"numbers a day (API_MAX_RECIPIENTS_PER_DAY) and this would be a new one; numbers it messaged "
            f"today are fine. Try again in {retry_after or 60} seconds.", retry_after)


def _seconds_until(moment: datetime | None, now: datetime) -> int | None:
    if moment is None:
        return None
    return max(1, math.ceil((as_utc(moment) - now).total_seconds()))


@dataclass(frozen=True)
class Page:
    """One page of a listing, newest first, and the cursor of the next one (None at the end)."""

    reminders: list[Reminder]
    next_cursor: str | None


def read_recipient(value: str, field: str) -> str:
    """Return ``value`` as an E.164 number if it is one and a possible number (not too short for its country)."""
    number = normalize_number(value) if E164.fullmatch(value) else None
    if number is None:
        raise InvalidRequest("invalid_phone_number",
                             f"{field} must be a phone number in E.164 format, like +12125550147.", field)
    return number


def read_text(value: str, field: str) -> str:
    """Check a message body (at most 1,600 characters) and clean it as an SMS command's text is cleaned.

    One policy on every path: control characters (NUL and newlines too) become a space, invisible
    ones go, the ends are trimmed (``clean_text``); what is left must not be blank.
    """
    if len(value) > MAX_MESSAGE_LENGTH:  # counted as sent, as the OpenAPI maxLength counts it
        raise InvalidRequest("message_too_long",
                             f"{field} is {len(value)} characters; the most is {MAX_MESSAGE_LENGTH}.", field)
    from bot.language.parser import clean_text  # the SMS path's own cleaning (imported late, as parse is)

    text = clean_text(value)
    if not text:
        raise InvalidRequest("empty_field", f"{field} must not be empty (control characters do not count).", field)
    return text


def read_send_at(value: str, field: str = "send_at") -> datetime:
    """Read an ISO 8601 date and time; ``Z`` or an offset is that instant, a naive value is UTC."""
    text = value.strip()
    try:
        if len(text) <= 10:  # a bare date ("2026-06-18") names a day, not a time
            raise ValueError(text)
        # Python 3.11's fromisoformat reads "Z"; the Telnyx example's own code did not (a 500).
        return as_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError) as exc:
        raise InvalidRequest(
            "invalid_send_at",
            f"{field} must be an ISO 8601 date and time, like 2026-06-18T14:30:00Z "
            "(with Z or an offset; a time without one is UTC).", field) from exc


def read_zone(value: str, field: str = "tz") -> str:
    """Check an IANA time zone name."""
    try:
        if not value or len(value) > MAX_ZONE_LENGTH:
            raise ValueError(value)
        ZoneInfo(value)
    except (KeyError, ValueError, OSError, UnicodeError) as exc:
        raise InvalidRequest("invalid_timezone",
                             f"{field} must be an IANA time zone name, like America/New_York.", field) from exc
    return value


def read_minutes(value: int, field: str = "minutes") -> int:
    """Check a delay in whole minutes: 1 minute to 365 days."""
    if not MIN_MINUTES <= value <= MAX_MINUTES:
        raise InvalidRequest(
            "minutes_out_of_range",
            f"{field} must be from {MIN_MINUTES} to {MAX_MINUTES} (365 days); "
            "there is no 15-minute minimum or 7-day maximum here.", field)
    return value


def send_time(timing: Timing, recipient: str, now: datetime, field: str) -> datetime:
    """Return the instant ``timing`` names for a request made at ``now``."""
    if isinstance(timing, At):
        return timing.instant
    if isinstance(timing, After):
        return now + timedelta(minutes=timing.minutes)
    return _read_phrase(timing, recipient, now, field)


def _read_phrase(timing: When, recipient: str, now: datetime, field: str) -> datetime:
    from bot.language.parser import parse  # the SMS parser: the same phrases as "remind me <when>: ..."

    # A placeholder text keeps the message's own words ("every day", a colon) out of the phrase.
    command = parse(f"remind me {timing.phrase}: x", now, timing.zone, recipient)
    if isinstance(command, ParseError):
        raise InvalidRequest("invalid_when", f"Could not read {field}: {command.error}", field)
    if isinstance(command, Ask):  # an SMS would ask back ("5 AM or 5 PM?"); a request says which
        times = [option.send_at for option in command.question.options]
        raise InvalidRequest("ambiguous_when", wording.unclear_when(times, timing.zone), field)
    if not isinstance(command, Remind):
        raise InvalidRequest("invalid_when", f'Could not read {field} as a time, like "tomorrow 9am" '
                             'or "in 2 hours".', field)
    if command.recurrence:
        raise InvalidRequest("invalid_when", f"{field} must name one time; repeating reminders are set by SMS.",
                             field)
    return as_utc(command.send_at)


def check_send_time(send_at: datetime, now: datetime, field: str) -> None:
    """Refuse an instant in the past or more than 365 days ahead."""
    if send_at < now:
        raise InvalidRequest("send_at_in_past", f"{field} is in the past; it must be a future time.", field)
    if send_at > ceil_second(now) + MAX_AHEAD:  # phrases read from now round up to the second
        raise InvalidRequest("send_at_too_far",
                             f"{field} is more than {MAX_DAYS_AHEAD} days ahead; the most is {MAX_DAYS_AHEAD}.",
                             field)


def schedule_message(session_factory: SessionFactory, request: NewMessage, now: datetime,
                     idempotency_key: str | None = None, limits: ApiLimits | None = None) -> Created:
    """Queue a message, or return the job an earlier request with the same key created.

    ``idempotency_key`` is stored as given (the caller scopes it per endpoint); the
    unique column makes concurrent requests with one key create one job. Raises
    RecipientOptedOut for a number that opted out, and ApiLimitReached over ``limits``.
    """
    if idempotency_key is not None:
        with session_factory() as session:
            existing = queries.find_by_idempotency_key(session, idempotency_key)
            if existing is not None:
                return _replay(existing, request)
    send_at = send_time(request.timing, request.recipient, now, request.time_field)
    check_send_time(send_at, now, request.time_field)
    if limits is not None:
        check_segments(request.text, limits)
    zone = request.timing.zone if isinstance(request.timing, When) else "UTC"
    fields: dict[str, Any] = dict(recipient=request.recipient, text=request.text, send_at=send_at, now=now, zone=zone,
                                  kind=Kind.REMINDER, source=Source.API, idempotency_key=idempotency_key)
    try:
        row = None
        if limits is not None:  # the common case: checked as it goes in, in one statement (group_commit)
            room = queries.api_room_values(request.recipient, now, **limits.counted())
            row = runner_for(engine_of(session_factory)).run(
                lambda connection: lifecycle.insert_scheduled_where(connection, queries.API_HAS_ROOM, room, **fields))
        if row is None:  # a limit may be reached (or no limits were given): check exactly, then insert
            with session_factory() as session, session.begin():
                if limits is None:
                    check_recipient(session, request.recipient)
                else:
                    check_recipient_and_limits(session, limits, request.recipient, now)
                row = lifecycle.insert_scheduled(session, **fields)
        return Created(Job(row["id"], row["status"], send_at, request.recipient), replayed=False)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # Another request with the same key committed first: answer with its job.
        with session_factory() as session:
            existing = queries.find_by_idempotency_key(session, idempotency_key)
        if existing is None:
            raise
        return _replay(existing, request)


def _replay(existing: Reminder, request: NewMessage) -> Created:
    if not _same_request(existing, request):
        raise IdempotencyConflict(existing.id)
    return Created(Job.of(existing), replayed=True)


def _same_request(existing: Reminder, request: NewMessage) -> bool:
    """Say whether ``request`` is the one that created ``existing``.

    The timing is compared by resolving it at the original request's time, so a retried
    ``"minutes": 16`` or ``"when": "in 2 hours"`` matches, and a changed one does not.
    """
    if existing.source != SOURCE or existing.recipient != request.recipient or existing.text != request.text:
        return False
    try:
        send_at = send_time(request.timing, request.recipient, existing.created_at, request.time_field)
    except InvalidRequest:
        return False
    return abs(send_at - existing.send_at) < timedelta(milliseconds=1)


def get_scheduled(session: Session, reminder_id: str) -> Reminder | None:
    """Return the reminder with this id (any owner), or None; replies and notices are not jobs."""
    reminder_id = reminder_id.strip().lower()
    if not is_valid_id(reminder_id):
        return None
    reminder = session.get(Reminder, reminder_id)
    if reminder is None or reminder.kind != Kind.REMINDER:
        return None
    return reminder


def cancel_scheduled(session: Session, reminder_id: str, now: datetime) -> Reminder | None:
    """Cancel a scheduled reminder and return it; None if unknown; NotCancellable if it is being sent or final."""
    reminder_id = reminder_id.strip().lower()
    if not is_valid_id(reminder_id):
        return None
    outcome = lifecycle.cancel(session, reminder_id, now)
    if outcome.status is None:
        return None
    if not outcome.cancelled:
        raise NotCancellable(reminder_id, outcome.status)
    return get_scheduled(session, reminder_id)


def list_scheduled(session: Session, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None,
                   status: str | None = None) -> Page:
    """Return reminders of every owner, newest first, one page after ``cursor``."""
    query = select(Reminder).where(Reminder.kind == Kind.REMINDER)
    if status is not None:
        query = query.where(Reminder.status == status)
    if cursor is not None:
        created_at, last_id = decode_cursor(cursor)
        query = query.where(or_(Reminder.created_at < created_at,
                                and_(Reminder.created_at == created_at, Reminder.id < last_id)))
    rows = list(session.scalars(query.order_by(Reminder.created_at.desc(), Reminder.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return Page(rows[:limit], next_cursor)


def encode_cursor(reminder: Reminder) -> str:
    """Return an opaque cursor for the rows after ``reminder`` in the listing order."""
    position = json.dumps([as_utc(reminder.created_at).isoformat(), reminder.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Read a cursor made by ``encode_cursor``; InvalidRequest for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, last_id = json.loads(raw)
        if not isinstance(created_at, str) or not isinstance(last_id, str) or not is_valid_id(last_id):
            raise ValueError(cursor)
        return as_utc(datetime.fromisoformat(created_at)), last_id
    except (ValueError, TypeError, binascii.Error, OverflowError, RecursionError) as exc:
        raise InvalidRequest("invalid_cursor", "cursor is not one this API returned; start again without it.",
                             "cursor") from exc
