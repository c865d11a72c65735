"""Conversation state per number (the pending question, the list page) and done reminders (issue 14).

- ``conversations``: one row per number that was asked a question or shown a list: the question
  awaiting its answer as JSON (``bot.storage.queries.load_question``) and when it was asked, and
  where the next ``more`` starts. Stored, not kept in memory, so an answer reaches whichever
  instance takes it, after a restart too.
- ``reminders.done_at``: when the recipient said "done" to the reminder (for a series, to the
  occurrence sent last). Existing rows get none.

No stored row changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("question", sa.Text()),
        sa.Column("asked_at", UTCDateTime()),
        sa.Column("list_offset", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("done_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("done_at")
    op.drop_table("conversations")
