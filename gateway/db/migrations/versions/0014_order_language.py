"""an order keeps the voter's own language where its channel knows it (a Telegram user's), for the receipt

Revision ID: 0014_order_language
Revises: 0011_vote_ledger
Create Date: 2026-11-23 05:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_order_language'
down_revision = '0011_vote_ledger'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("vote_orders", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("vote_orders", "language")
