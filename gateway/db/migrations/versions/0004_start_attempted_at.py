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
    # Pending orders a start has claimed (one may be under way as this runs) or recorded were attempted.
    # Only pending rows: the rest are decided, and rewriting them would hold up votes behind this lock.
    op.execute("UPDATE vote_orders SET start_attempted_at = coalesce(payment_started_at, now()) "
               "WHERE status = 'pending' AND (payment_started_at IS NOT NULL OR start_lease_until IS NOT NULL)")


def downgrade() -> None:
    op.drop_column('vote_orders', 'start_attempted_at')
