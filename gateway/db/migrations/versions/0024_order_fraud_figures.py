"""an order keeps the fraud rules' figures it was placed with (a threshold's preview tries others on them)

Revision ID: 0024_order_fraud_figures
Revises: 0023_settlements
Create Date: 2026-11-24 00:35:00

A nullable column without a default: adding it rewrites nothing and locks the table only for an instant. Orders
placed before have none; a preview counts only the orders that kept theirs.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0024_order_fraud_figures'
down_revision = '0023_settlements'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("vote_orders", sa.Column("fraud_figures", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("vote_orders", "fraud_figures")
