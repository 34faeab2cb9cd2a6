"""settlements: a contest's commission, the providers' fee rates, signed settlement statements

Revision ID: 0023_settlements
Revises: 0022_refunds
Create Date: 2026-11-24 00:15:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023_settlements'
down_revision = '0022_refunds'
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.add_column("contests", sa.Column("commission_bp", sa.Integer(), server_default="0", nullable=False))
    op.create_check_constraint(op.f("ck_contests_commission_within_whole"), "contests",
                               "commission_bp BETWEEN 0 AND 10000")
    op.create_table(
        "provider_fee_rates",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("percent_bp", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fixed_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("percent_bp BETWEEN 0 AND 10000", name="ck_provider_fee_rates_percent_within_whole"),
        sa.CheckConstraint("fixed_minor >= 0", name="ck_provider_fee_rates_fixed_not_negative"),
        sa.PrimaryKeyConstraint("provider", "currency", name="pk_provider_fee_rates"),
    )
    op.create_table(
        "settlement_statements",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey(
            "contests.id", ondelete="CASCADE", name="fk_settlement_statements_contest_id_contests"), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_settlement_statements"),
    )
    op.create_index("ix_settlement_statements_contest", "settlement_statements", ["contest_id", "created_at"])


def downgrade() -> None:
    op.drop_table("settlement_statements")
    op.drop_table("provider_fee_rates")
    op.drop_constraint(op.f("ck_contests_commission_within_whole"), "contests", type_="check")
    op.drop_column("contests", "commission_bp")
