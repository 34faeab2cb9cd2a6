"""callback verification: each waiting order's rank, the highest verified first

Revision ID: 0034_verification_priority
Revises: 0033_payout_kinds_by_provider
Create Date: 2026-11-26 00:00:00

The status calls that verify callback-counted orders are capped; at show scale the queue is read by rank
(gateway.core.money_in.verification.priority), not oldest first. Entries waiting at the upgrade stay unranked (NULL)
until the ranking pass reaches them, and are claimed meanwhile as before, oldest first.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0034_verification_priority'
down_revision = '0033_payout_kinds_by_provider'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('payment_verifications', sa.Column('priority', sa.BigInteger(), nullable=True))
    op.create_index('ix_payment_verifications_priority', 'payment_verifications',
                    [sa.text('priority DESC NULLS LAST'), 'queued_at'],
                    postgresql_where=sa.text('verified_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_payment_verifications_priority', table_name='payment_verifications')
    op.drop_column('payment_verifications', 'priority')
