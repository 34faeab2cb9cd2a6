"""held orders: fraud rules per contest, the voter's address, a hold reason, and the `held` status

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 22:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new enum value may be added in a transaction (PostgreSQL 12+), just not used in it: nothing here does.
    op.execute("ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'held' AFTER 'flagged'")
    op.add_column('contests', sa.Column('fraud_rules', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('vote_orders', sa.Column('voter_address', sa.String(length=64), nullable=True))
    op.add_column('vote_orders', sa.Column('hold_reason', sa.Text(), nullable=True))
    op.create_index('ix_vote_orders_address', 'vote_orders', ['voter_address', 'created_at'],
                    postgresql_where=sa.text('voter_address IS NOT NULL'))
    op.create_index('ix_vote_orders_voter_ref', 'vote_orders', ['voter_ref', 'created_at'],
                    postgresql_where=sa.text('voter_ref IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_vote_orders_voter_ref', table_name='vote_orders')
    op.drop_index('ix_vote_orders_address', table_name='vote_orders')
    op.drop_column('vote_orders', 'hold_reason')
    op.drop_column('vote_orders', 'voter_address')
    op.drop_column('contests', 'fraud_rules')
    # PostgreSQL cannot drop an enum value: `held` stays in the type, unused once no order holds it.
    op.execute("UPDATE vote_orders SET status = 'flagged' WHERE status = 'held'")
