"""Anchor repeating reminders on their first start; keep each occurrence's body for retries.

- ``series_anchor``: the series' first occurrence as a naive wall time in the row's zone.
  Rows written before this revision stored the series re-based on the occurrence due next,
  so that occurrence is their anchor (its COUNT was already shrunk to match).
- ``series_sent``: occurrences of the series consumed so far (0 for the back-filled rows,
  whose count restarts at their new anchor, as their rule does).
- ``outbound_text``: the composed body of the current occurrence, reused by every retry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from datetime import timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_reminders = sa.table("reminders", sa.column("id", sa.String), sa.column("zone", sa.String),
                      sa.column("send_at", sa.DateTime), sa.column("recurrence", sa.String),
                      sa.column("series_anchor", sa.DateTime))


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("series_anchor", sa.DateTime()))
        batch.add_column(sa.Column("series_sent", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("outbound_text", sa.Text()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_reminders.c.id, _reminders.c.zone, _reminders.c.send_at)
                              .where(_reminders.c.recurrence.is_not(None))).all()
    for row in rows:
        # send_at is stored as naive UTC; the anchor is the same instant's wall time in the row's zone.
        anchor = row.send_at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(row.zone)).replace(tzinfo=None)
        connection.execute(sa.update(_reminders).where(_reminders.c.id == row.id).values(series_anchor=anchor))


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("outbound_text")
        batch.drop_column("series_sent")
        batch.drop_column("series_anchor")
