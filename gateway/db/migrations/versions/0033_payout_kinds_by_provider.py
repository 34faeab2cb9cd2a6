"""a payout account's kind: the name of its wallet's provider, or "bank" (no longer a fixed list)

Revision ID: 0033_payout_kinds_by_provider
Revises: 0032_media_access
Create Date: 2026-11-27 09:00:00

A wallet is any provider's that charges a phone's wallet (`Capability.PHONE_PROMPT`), paid by its own API where it
declares payouts (`Capability.PAYOUTS`): a new provider's wallets are payout accounts without a migration of their
own. The stored values ("mtn", "orange", "bank") stay as they are.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0033_payout_kinds_by_provider'
down_revision = '0032_media_access'
branch_labels = None
depends_on = None

KIND = postgresql.ENUM("mtn", "orange", "bank", name="payout_account_kind", create_type=False)
TABLES = ("payout_accounts", "payouts")
# The account's checks compare its kind with 'bank': made again over the new type (the old ones compare the enum's).
CHECKS = (("ck_payout_accounts_bank_has_details", "(kind = 'bank') = (bank_details IS NOT NULL)"),
          ("ck_payout_accounts_wallet_proven", "(kind = 'bank') OR (msisdn IS NOT NULL AND proven_at IS NOT NULL)"))


def retyped(type_: sa.types.TypeEngine[str], using: str) -> None:
    for name, _ in CHECKS:
        op.drop_constraint(name, "payout_accounts", type_="check")
    for table in TABLES:
        op.alter_column(table, "kind", type_=type_, postgresql_using=using)
    for name, condition in CHECKS:
        op.create_check_constraint(name, "payout_accounts", condition)


def upgrade() -> None:
    retyped(sa.String(32), "kind::text")
    KIND.drop(op.get_bind())


def downgrade() -> None:
    KIND.create(op.get_bind())
    retyped(KIND, "kind::payout_account_kind")
