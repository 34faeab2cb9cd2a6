"""refunds sent by the provider's own API, each under a reference kept before the first call

Revision ID: 0022_refunds
Revises: 0021_entry_fees
Create Date: 2026-11-24 00:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0022_refunds'
down_revision = '0021_entry_fees'
branch_labels = None
depends_on = None

REFUND_STATE = postgresql.ENUM("requested", "sent", "succeeded", "failed", name="refund_state", create_type=False)
NOW = sa.text("now()")


def upgrade() -> None:
    REFUND_STATE.create(op.get_bind())
    op.create_table(
        "refunds",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("order_id", postgresql.UUID(as_uuid=True),
                  sa.ForeignKey("vote_orders.id", name="fk_refunds_order_id_vote_orders"), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", REFUND_STATE, server_default="requested", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("provider_txn_id", sa.String(200), nullable=True),
        sa.Column("provider_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name="ck_refunds_amount_positive"),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
    )
    op.create_index("uq_refunds_order_open", "refunds", ["order_id"], unique=True,
                    postgresql_where=sa.text("state <> 'failed'"))
    op.create_index("ix_refunds_due", "refunds", ["due_at"],
                    postgresql_where=sa.text("state IN ('requested', 'sent')"))


def downgrade() -> None:
    op.drop_table("refunds")
    REFUND_STATE.drop(op.get_bind())
