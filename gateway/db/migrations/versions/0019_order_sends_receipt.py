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
    # True unless said otherwise: web processes of the release before keep placing orders (without this column)
    # until they are replaced, and an SMS or Telegram voter's receipt must not be lost in that window. A web or
    # USSD order marked so by them gets none all the same: those channels have no receipt sender.
    op.add_column("vote_orders", sa.Column("sends_receipt", sa.Boolean(), nullable=False,
                                           server_default=sa.true()))
    # Until now the core itself knew which channels show the outcome on their own screen.
    op.execute("UPDATE vote_orders SET sends_receipt = false WHERE channel IN ('ussd', 'web')")


def downgrade() -> None:
    op.drop_column("vote_orders", "sends_receipt")
