"""Database models: the reminders table is the queue and the source of truth."""

from __future__ import annotations

from datetime import datetime

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


class Status:
    """Reminder states. ``sending`` is a claimed row with a lease."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PENDING = (SCHEDULED, SENDING)
    FINAL = (SENT, DELIVERED, FAILED, CANCELLED)


class Kind:
    """What an outbound row is: a user's reminder, or a message of the bot's own."""

    REMINDER = "reminder"  # set by SMS or the API; listed, cancellable
    REPLY = "reply"  # the answer to an inbound message
    NOTICE = "notice"  # a message the bot sends on its own (a failure notice)


class Reminder(Base):
    """One message to send: a reminder, a reply or a notice."""

    __tablename__ = "reminders"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=Kind.REMINDER)
    source: Mapped[str] = mapped_column(String(16), default="sms")  # sms | api | bot
    owner: Mapped[str | None] = mapped_column(String(32), index=True)  # who set it (E.164)
    recipient: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(String(64), default="UTC")
    recurrence: Mapped[str | None] = mapped_column(String(255))
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
    owner_notified: Mapped[bool] = mapped_column(default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    __table_args__ = (Index("ix_reminders_status_due_at", "status", "due_at"),)


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
