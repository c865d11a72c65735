"""Initial schema: reminders (the queue), inbound messages, contacts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(32)),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("recurrence", sa.String(255)),
        sa.Column("send_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(32)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("cancelled_at", UTCDateTime()),
        sa.Column("provider_message_id", sa.String(64)),
        sa.Column("delivery_status", sa.String(32)),
        sa.Column("error", sa.Text()),
        sa.Column("owner_notified", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), unique=True),
    )
    op.create_index("ix_reminders_status_due_at", "reminders", ["status", "due_at"])
    op.create_index("ix_reminders_owner", "reminders", ["owner"])
    op.create_index("ix_reminders_recipient", "reminders", ["recipient"])
    op.create_index("ix_reminders_provider_message_id", "reminders", ["provider_message_id"])
    op.create_table(
        "inbound_messages",
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(128), unique=True),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("command", sa.String(16), nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("timezone", sa.String(64)),
        sa.Column("opted_out_at", UTCDateTime()),
        sa.Column("introduced_at", UTCDateTime()),
        sa.Column("refused_at", UTCDateTime()),
        sa.Column("last_reminder_id", sa.String(16)),
    )


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_table("inbound_messages")
    op.drop_table("reminders")
