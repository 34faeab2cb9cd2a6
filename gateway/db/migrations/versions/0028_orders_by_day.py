"""a day of orders found without reading them all (the money check): a BRIN index on when each was made

Revision ID: 0028_orders_by_day
Revises: 0027_provider_balances
Create Date: 2026-11-24 11:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0028_orders_by_day'
down_revision = '0027_provider_balances'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_vote_orders_created_brin", "vote_orders", ["created_at"], postgresql_using="brin")


def downgrade() -> None:
    op.drop_index("ix_vote_orders_created_brin", table_name="vote_orders")
