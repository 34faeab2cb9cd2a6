"""an order's channel is a name, not a PostgreSQL enum: a new channel needs no change to the core's schema

Revision ID: 0013
Revises: 0010_contest_settings
Create Date: 2026-11-23 01:30:00
"""
from __future__ import annotations

from alembic import op

revision = '0013'
down_revision = '0010_contest_settings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE vote_orders ALTER COLUMN channel TYPE varchar(32) USING channel::text")
    op.execute("DROP TYPE channel")


def downgrade() -> None:
    op.execute("CREATE TYPE channel AS ENUM ('ussd', 'sms', 'telegram', 'web')")
    op.execute("ALTER TABLE vote_orders ALTER COLUMN channel TYPE channel USING channel::channel")
