"""readings of the platform's account balances at a provider, next to the books

Revision ID: 0027_provider_balances
Revises: 0026_payouts
Create Date: 2026-11-24 10:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0027_provider_balances'
down_revision = '0026_payouts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_balances",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("books", sa.BigInteger(), nullable=False),
        sa.Column("maybe_in", sa.BigInteger(), nullable=False),
        sa.Column("maybe_out", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_provider_balances"),
    )
    op.create_index("ix_provider_balances_account", "provider_balances", ["provider", "account", "currency", "id"])


def downgrade() -> None:
    op.drop_table("provider_balances")
