"""callback verification: orders counted from a callback await a status check

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 21:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'payment_verifications',
        sa.Column('order_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['order_id'], ['vote_orders.id'], ondelete='CASCADE',
                                name='fk_payment_verifications_order_id_vote_orders'),
        sa.PrimaryKeyConstraint('order_id', name='pk_payment_verifications'),
    )
    op.create_index('ix_payment_verifications_due', 'payment_verifications', ['due_at'],
                    postgresql_where=sa.text('verified_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_payment_verifications_due', table_name='payment_verifications')
    op.drop_table('payment_verifications')
