"""Recipient consent (double opt-in) per sender, and indexes for the API's own limits.

- ``consents``: one row per (sender, recipient) pair of SMS reminders for someone else, with
  THIRD_PARTY_CONSENT=ask: ``requested`` when the recipient was asked to reply YES, ``granted``
  after the YES, ``refused`` after a STOP. Existing reminders get no row: a third-party reminder
  without one was set before consent was asked for and goes out as it always did.
- ``ix_reminders_source_status`` and ``ix_reminders_source_created_at``: the API's pending
  messages, and those it made in the last hour and day (and to whom), read from an index.

No stored row changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("sender", sa.String(32), primary_key=True),
        sa.Column("recipient", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime()),
    )
    op.create_index("ix_consents_recipient", "consents", ["recipient"])
    op.create_index("ix_reminders_source_status", "reminders", ["source", "status"])
    op.create_index("ix_reminders_source_created_at", "reminders", ["source", "created_at", "recipient"])


def downgrade() -> None:
    op.drop_index("ix_reminders_source_created_at", "reminders")
    op.drop_index("ix_reminders_source_status", "reminders")
    op.drop_index("ix_consents_recipient", "consents")
    op.drop_table("consents")
