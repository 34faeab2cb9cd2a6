"""an order keeps whether its channel messages the voter a receipt, so the core names no channel

Revision ID: 0019_order_sends_receipt
Revises: 0018_fraud_rule_names
Create Date: 2026-11-23 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019_order_sends_receipt'
down_revision = '0018_fraud_rule_names'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("vote_orders", sa.Column("sends_receipt", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))
    # Until now the core itself knew which channels show the outcome on their own screen: every other channel's
    # orders, pending ones included, keep getting their receipts.
    op.execute("UPDATE vote_orders SET sends_receipt = true WHERE channel NOT IN ('ussd', 'web')")


def downgrade() -> None:
    op.drop_column("vote_orders", "sends_receipt")
