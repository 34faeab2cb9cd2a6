"""settlements: a provider's fee rate may go by the payment's amount, in bands

Revision ID: 0035_fee_bands
Revises: 0034_verification_priority
Create Date: 2026-11-26 04:00:00

A tariff tiered by amount (M-Pesa's business tariffs) is no share plus fixed part: each band says up to which amount
a payment costs a fixed fee, plus a share of it, capped (gateway.core.money_out.fee_rates). A rate without bands
costs what it did.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0035_fee_bands'
down_revision = '0034_verification_priority'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_fee_bands",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("up_to_minor", sa.BigInteger(), nullable=False),
        sa.Column("fixed_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("percent_bp", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cap_minor", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("up_to_minor > 0", name="ck_provider_fee_bands_up_to_positive"),
        sa.CheckConstraint("fixed_minor >= 0", name="ck_provider_fee_bands_fixed_not_negative"),
        sa.CheckConstraint("percent_bp BETWEEN 0 AND 10000", name="ck_provider_fee_bands_percent_within_whole"),
        sa.CheckConstraint("cap_minor IS NULL OR cap_minor >= 0", name="ck_provider_fee_bands_cap_not_negative"),
        sa.ForeignKeyConstraint(["provider", "currency"], ["provider_fee_rates.provider", "provider_fee_rates.currency"],
                                name="fk_provider_fee_bands_provider_provider_fee_rates", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("provider", "currency", "up_to_minor", name="pk_provider_fee_bands"),
    )


def downgrade() -> None:
    op.drop_table("provider_fee_bands")
