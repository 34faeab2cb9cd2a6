"""start_attempted_at: when a start first claimed the order; from then on its prompt may be out

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 14:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('vote_orders', sa.Column('start_attempted_at', sa.DateTime(timezone=True), nullable=True))
    # Orders already started were attempted; the rest cannot be told apart and keep NULL.
    op.execute("UPDATE vote_orders SET start_attempted_at = payment_started_at WHERE payment_started_at IS NOT NULL")


def downgrade() -> None:
    op.drop_column('vote_orders', 'start_attempted_at')
