"""Telegram: updates, chats and Stars payments

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 21:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contests", sa.Column("stars_per_vote", sa.Integer(), nullable=True))
    op.add_column("contests", sa.Column("telegram_mobile_money", sa.Boolean(), server_default="false",
                                        nullable=False))
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_telegram_updates_unhandled", "telegram_updates", ["claimed_at"],
                    postgresql_where=sa.text("handled_at IS NULL"))
    op.create_table(
        "telegram_receipts",
        sa.Column("order_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("vote_orders.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telegram_receipts")
    op.drop_index("ix_telegram_updates_unhandled", table_name="telegram_updates")
    op.drop_table("telegram_updates")
    op.drop_column("contests", "telegram_mobile_money")
    op.drop_column("contests", "stars_per_vote")
