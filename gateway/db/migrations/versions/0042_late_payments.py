"""payments that arrive after the lines closed: the contest's published grace, and the `late` order status

An order placed before the lines closed counts if its payment is confirmed within `contests.late_grace_seconds` after
the close (gateway.core.contests.late_votes); a later one becomes `late`: never counted, refunded by itself.

Revision ID: 0042_late_payments
Revises: 0041_jury_scores
Create Date: 2026-11-28 00:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0042_late_payments'
down_revision = '0041_jury_scores'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new enum value may be added in a transaction (PostgreSQL 12+), just not used in it: nothing here does.
    op.execute("ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'late' AFTER 'refund_requested'")
    # 300 s: MTN MoMo's and M-Pesa's payment prompts stay open about five minutes.
    op.add_column('contests', sa.Column('late_grace_seconds', sa.Integer(), server_default='300', nullable=False))


def downgrade() -> None:
    op.drop_column('contests', 'late_grace_seconds')
    # PostgreSQL cannot drop an enum value: `late` stays in the type, unused once no order is late. A late order was
    # owed back: it becomes one owed back as before this revision.
    op.execute("UPDATE vote_orders SET status = 'refund_requested' WHERE status = 'late'")
