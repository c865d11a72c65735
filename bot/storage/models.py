"""Database models: the reminders table is the queue and the source of truth."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.timeutil import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Store instants as naive UTC (SQLite has no zones) and hand back aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    pass


class Status(StrEnum):
    """Where a row is in its life; only bot.storage.lifecycle changes it.

    ``sending`` is a claimed row with a lease: it may be on the wire, so it can no longer be
    cancelled. ``scheduled`` is the only state a cancel accepts.
    """

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


PENDING = (Status.SCHEDULED, Status.SENDING)  # still to go out (listed, counted against limits)
FINAL = (Status.SENT, Status.DELIVERED, Status.FAILED, Status.CANCELLED)


class Kind(StrEnum):
    """What an outbound row is: a user's reminder, or a message of the bot's own."""

    REMINDER = "reminder"  # set by SMS or the API; listed, cancellable
    REPLY = "reply"  # the answer to an inbound message
    NOTICE = "notice"  # a message the bot sends on its own (a failure notice, a consent request)


class Source(StrEnum):
    """Who made a row: a person by SMS, a program over the API, or the bot itself."""

    SMS = "sms"
    API = "api"
    BOT = "bot"
    OPTOUT = "optout"  # the opt-out confirmation: the one message sent to an opted-out number


class DeliveryState(StrEnum):
    """The provider's report on a sent message; it only moves forward (see ``DELIVERY_RANK``)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERY_UNCONFIRMED = "delivery_unconfirmed"
    DELIVERED = "delivered"
    SENDING_FAILED = "sending_failed"
    DELIVERY_FAILED = "delivery_failed"
    ACCEPTED_EARLIER = "accepted_earlier"  # Telnyx had taken this occurrence before (Idempotency-Key)


# Reports arrive out of order; a report may replace only one of a lower rank.
DELIVERY_RANK = {DeliveryState.QUEUED: 0, DeliveryState.ACCEPTED_EARLIER: 0, DeliveryState.SENDING: 1,
                 DeliveryState.SENT: 2, DeliveryState.DELIVERY_UNCONFIRMED: 3, DeliveryState.DELIVERED: 4,
                 DeliveryState.SENDING_FAILED: 4, DeliveryState.DELIVERY_FAILED: 4}
FAILED_DELIVERY = (DeliveryState.SENDING_FAILED, DeliveryState.DELIVERY_FAILED)


class Reminder(Base):
    """One message to send: a reminder, a reply or a notice."""

    __tablename__ = "reminders"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=Kind.REMINDER)
    source: Mapped[str] = mapped_column(String(16), default=Source.SMS)
    owner: Mapped[str | None] = mapped_column(String(32), index=True)  # who set it (E.164)
    recipient: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(String(64), default="UTC")
    recurrence: Mapped[str | None] = mapped_column(String(255))  # the RRULE as the parser made it, never rebased
    # A series' first occurrence as a wall time in ``zone`` (naive): every occurrence is computed
    # from it and ``recurrence`` (bot.series.next_after), so a shifted one never moves the rest.
    series_anchor: Mapped[datetime | None] = mapped_column(DateTime)
    series_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # occurrences sent or failed
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the occurrence due now
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # next attempt (send_at or a retry)
    status: Mapped[str] = mapped_column(String(16), default=Status.SCHEDULED)
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # The body of the current occurrence as first sent (prefix and late note included): every retry
    # and every instance that takes the claim over sends these exact bytes under one Idempotency-Key.
    outbound_text: Mapped[str | None] = mapped_column(Text)
    owner_notified: Mapped[bool] = mapped_column(default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    # When the recipient said "done" to it; for a series, to the occurrence sent last (done_at >= sent_at).
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_reminders_status_due_at", "status", "due_at"),
        # The API's own limits (bot.api.messages): its pending messages, and those it made lately
        # and to whom, each read from an index rather than by scanning every row.
        Index("ix_reminders_source_status", "source", "status"),
        Index("ix_reminders_source_created_at", "source", "created_at", "recipient"),
    )


class ApiCount(Base):
    """Running counts of the API's messages, kept by database triggers (migration 0007) for its limits.

    Every API row counts here as it is inserted, changes status or is deleted, whatever code path
    does it, so reading a limit costs a handful of rows instead of an index walk up to the limit:

    - ``pending``: messages still to go out (status in PENDING), exact. Every change of a row
      counts on the shard of its id, ``ascii(id) % API_COUNT_SHARDS``, on PostgreSQL (concurrent
      transactions spread over several rows' locks; SQLite, one writer at a time, uses shard 0).
      Every change of an API row into or out of pending is a one-row transaction today; a change of
      many in one transaction would have to take the shards in order, or two could deadlock.
    - ``hour``: messages created per 5-minute bucket, in a ring of 16 slots (80 minutes); ``starts``
      is the bucket's number (epoch seconds // 300), so a slot from a lap ago is ignored and
      overwritten. The sum since the hour's first bucket is at least the last hour's count.
    - ``day``: the same per hour bucket, in a ring of 32 slots; at least the last day's count.

    The window counts are upper bounds: a limit is only counted exactly when one says it may be
    reached (``bot.storage.queries.api_usage``).
    """

    __tablename__ = "api_counts"

    counter: Mapped[str] = mapped_column(String(8), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    starts: Mapped[int] = mapped_column(BigInteger)  # the bucket's number; 0 for pending
    n: Mapped[int] = mapped_column(BigInteger)


API_COUNT_HOUR_BUCKET = 300  # seconds in one bucket of the "hour" ring
API_COUNT_HOUR_SLOTS = 16
API_COUNT_DAY_BUCKET = 3600  # seconds in one bucket of the "day" ring
API_COUNT_DAY_SLOTS = 32
API_COUNT_SHARDS = 8  # rows the pending count's inserts spread over on PostgreSQL (SQLite has one writer: 1)


class InboundMessage(Base):
    """An inbound SMS already handled; its primary key makes handling idempotent."""

    __tablename__ = "inbound_messages"

    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    sender: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    command: Mapped[str] = mapped_column(String(16), default="")


class Contact(Base):
    """A number the bot has dealt with: its settings and consent."""

    __tablename__ = "contacts"

    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    introduced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reminder_id: Mapped[str | None] = mapped_column(String(16))


class ConsentState(StrEnum):
    """Where a recipient stands on one sender's reminders (double opt-in, THIRD_PARTY_CONSENT=ask)."""

    REQUESTED = "requested"  # the recipient was asked to reply YES and has not yet
    GRANTED = "granted"  # the recipient replied YES
    REFUSED = "refused"  # the recipient texted STOP (or another opt-out) since


class Consent(Base):
    """A recipient's answer to one sender's reminders: one row per (sender, recipient) pair."""

    __tablename__ = "consents"

    sender: Mapped[str] = mapped_column(String(32), primary_key=True)  # who sets the reminders (E.164)
    recipient: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    state: Mapped[str] = mapped_column(String(16), default=ConsentState.REQUESTED)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the latest request sent
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the YES or the STOP, if any


class Conversation(Base):
    """Where a number's conversation stands: the one question awaiting its answer, and the list page shown."""

    __tablename__ = "conversations"

    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str | None] = mapped_column(Text)  # a Question as JSON (bot.storage.queries), or none
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    list_offset: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # where "more" goes on
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboundBudget(Base):
    """One provider account's outbound budget, shared by every process: when its next send may go.

    A GCRA "theoretical arrival time" in whole microseconds since the epoch (integers, so that slots
    stay exactly one interval apart); bot.delivery.budget_store owns it.
    """

    __tablename__ = "outbound_budgets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # the provider and a hash of its key
    next_free_us: Mapped[int] = mapped_column(BigInteger)


# --- The web page, the calendar feed (issue 17): bot.storage.web_access owns these rows --------------

class WebTokenKind(StrEnum):
    """What a web token lets its holder do."""

    SIGN_IN = "sign_in"  # texted as PUBLIC_BASE_URL/w/<token>: single use, 15 minutes
    SESSION = "session"  # a signed-in browser (its raw token sits in the signed session cookie)
    FEED = "feed"  # the private calendar URL, until revoked


class WebToken(Base):
    """A token of the web page, stored only as its SHA-256: a sign-in link, a session or a calendar feed."""

    __tablename__ = "web_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256 of the raw token
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(32))  # whose reminders it shows (E.164)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: until ended (feeds)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a sign-in link, once used
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # signed out, "web off", a feed revoked

    __table_args__ = (
        # Every question asked of these rows names the number and the kind: how many links it was
        # texted this hour, end its sessions, revoke its feed.
        Index("ix_web_tokens_number_kind", "number", "kind", "created_at"),
    )


# --- The inbox (issue 16): bot.storage.inbox_queries owns these rows ----------------------------------

class InboxStatus(StrEnum):
    """Where an inbound SMS is between its webhook's 200 and its reply being queued.

    ``handling`` is a claimed row with a lease; a row whose claimer died is taken over once the
    lease runs out. ``done`` rows stay (without their text) so a retried webhook is known as one.
    """

    RECEIVED = "received"
    HANDLING = "handling"
    DONE = "done"


class InboxOutcome(StrEnum):
    """What handling made of a ``done`` inbox row."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"  # handled before it entered the inbox (inbound_messages knew its id)
    IGNORED = "ignored"
    FAILED = "failed"  # handling raised on every attempt: a bug, logged with its traceback


class InboxMessage(Base):
    """An inbound SMS stored by its webhook before the 200, handled off the request."""

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # arrival order
    message_id: Mapped[str] = mapped_column(String(128), unique=True)
    event_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    sender: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)  # dropped once handled
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.RECEIVED)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # failed handlings
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    command: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        # The claim reads the waiting rows in arrival order, and whether their sender has a live claim.
        Index("ix_inbox_status_id", "status", "id"),
        Index("ix_inbox_sender_status", "sender", "status"),
    )
