"""Database models: the reminders table is the queue and the source of truth."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index, Integer, String, Text, TypeDecorator
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

    __table_args__ = (
        Index("ix_reminders_status_due_at", "status", "due_at"),
        # The API's own limits (bot.api.messages): its pending messages, and those it made lately
        # and to whom, each read from an index rather than by scanning every row.
        Index("ix_reminders_source_status", "source", "status"),
        Index("ix_reminders_source_created_at", "source", "created_at", "recipient"),
    )


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
