"""a kept Telegram update aiogram cannot read is marked failed for good, with why, instead of being
replayed every 30 s for an hour

Revision ID: 0017_telegram_update_failure
Revises: 0016_audit_no_truncate
Create Date: 2026-11-23 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017_telegram_update_failure'
down_revision = '0016_audit_no_truncate'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("telegram_updates", sa.Column("failure", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("telegram_updates", "failure")
