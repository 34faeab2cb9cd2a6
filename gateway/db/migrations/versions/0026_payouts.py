"""payouts to organisers, to an account proven by a code (a wallet) or given (a bank's)

Revision ID: 0026_payouts
Revises: 0025_fraud_counters
Create Date: 2026-11-24 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0026_payouts'
down_revision = '0025_fraud_counters'
branch_labels = None
depends_on = None

KIND = postgresql.ENUM("mtn", "orange", "bank", name="payout_account_kind", create_type=False)
STATE = postgresql.ENUM("awaiting_approval", "declined", "requested", "sent", "by_hand", "succeeded", "failed",
                        name="payout_state", create_type=False)
NOW = sa.text("now()")


def upgrade() -> None:
    KIND.create(op.get_bind())
    STATE.create(op.get_bind())
    op.create_table(
        "payout_accounts",
        sa.Column("contest_id", sa.Integer(),
                  sa.ForeignKey("contests.id", ondelete="CASCADE", name="fk_payout_accounts_contest_id_contests"),
                  nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("msisdn", sa.String(16), nullable=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("bank_details", sa.Text(), nullable=True),
        sa.Column("proven_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("set_by", sa.String(320), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("(kind = 'bank') = (bank_details IS NOT NULL)",
                           name="ck_payout_accounts_bank_has_details"),
        sa.CheckConstraint("(kind = 'bank') OR (msisdn IS NOT NULL AND proven_at IS NOT NULL)",
                           name="ck_payout_accounts_wallet_proven"),
        sa.PrimaryKeyConstraint("contest_id", name="pk_payout_accounts"),
    )
    op.create_table(
        "payouts",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id", name="fk_payouts_contest_id_contests"),
                  nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("msisdn", sa.String(16), nullable=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("bank_details", sa.Text(), nullable=True),
        sa.Column("state", STATE, server_default="awaiting_approval", nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("approved_by", sa.String(320), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("provider_txn_id", sa.String(200), nullable=True),
        sa.Column("provider_reason", sa.Text(), nullable=True),
        sa.Column("proof", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name="ck_payouts_amount_positive"),
        sa.PrimaryKeyConstraint("id", name="pk_payouts"),
    )
    op.create_index("ix_payouts_contest", "payouts", ["contest_id", "created_at"])
    op.create_index("ix_payouts_due", "payouts", ["due_at"],
                    postgresql_where=sa.text("state IN ('requested', 'sent')"))


def downgrade() -> None:
    op.drop_table("payouts")
    op.drop_table("payout_accounts")
    STATE.drop(op.get_bind())
    KIND.drop(op.get_bind())
