"""The inbound inbox and the shared outbound budget: filled by issue 16.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # -- Shared outbound budget (issue 16, outbound half): one row per provider account --
    op.create_table(
        "outbound_budgets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("next_free_us", sa.BigInteger(), nullable=False),
    )
    # -- end of the shared outbound budget --
    # -- Inbox (issue 16, inbound half): inbound SMS stored before the webhook's 200, handled off the
    # request (bot.conversation.inbox); done rows stay, without their text, to know a retried webhook --
    from bot.storage.models import UTCDateTime

    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(128), nullable=False, unique=True),
        sa.Column("event_id", sa.String(128), unique=True),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("text", sa.Text()),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claim_token", sa.String(32)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("handled_at", UTCDateTime()),
        sa.Column("outcome", sa.String(16)),
        sa.Column("command", sa.String(16)),
    )
    op.create_index("ix_inbox_status_id", "inbox", ["status", "id"])
    op.create_index("ix_inbox_sender_status", "inbox", ["sender", "status"])
    # -- end of the inbox --


def downgrade() -> None:
    # -- Shared outbound budget (issue 16, outbound half) --
    op.drop_table("outbound_budgets")
    # -- end of the shared outbound budget --
    # -- Inbox (issue 16, inbound half) --
    op.drop_index("ix_inbox_sender_status", "inbox")
    op.drop_index("ix_inbox_status_id", "inbox")
    op.drop_table("inbox")
    # -- end of the inbox --
