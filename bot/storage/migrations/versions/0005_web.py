"""Sign-in links, web sessions and calendar feed tokens (issue 17).

- ``web_tokens``: one row per token of the web page, keyed by the token's SHA-256 (the raw token is
  never stored): a sign-in link texted by "web" (single use, 15 minutes), a signed-in browser's
  session (ended by signing out or "web off"), or a private calendar feed (until revoked).

No stored row changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime()),
        sa.Column("used_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
    )
    op.create_index("ix_web_tokens_number_kind", "web_tokens", ["number", "kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_web_tokens_number_kind", "web_tokens")
    op.drop_table("web_tokens")
