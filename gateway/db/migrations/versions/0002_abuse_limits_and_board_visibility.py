"""abuse limits, board visibility, ussd records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:01:52.716886
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blocked_msisdns',
    sa.Column('msisdn', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('msisdn', name=op.f('pk_blocked_msisdns'))
    )
    op.create_table('ussd_session_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('session_id', sa.String(length=100), nullable=False),
    sa.Column('msisdn', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ussd_session_events'))
    )
    op.create_index(op.f('ix_ussd_session_events_session_id'), 'ussd_session_events', ['session_id'], unique=False)
    op.create_table('voter_preferences',
    sa.Column('msisdn', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('msisdn', name=op.f('pk_voter_preferences'))
    )
    op.add_column('contests', sa.Column('max_orders_per_minute', sa.Integer(), server_default='5', nullable=False))
    op.add_column('contests', sa.Column('max_orders_per_day', sa.Integer(), server_default='200', nullable=False))
    op.add_column('contests', sa.Column('show_counts', sa.Boolean(), server_default='true', nullable=False))
    op.add_column('contests', sa.Column('board_frozen_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('contests', 'board_frozen_at')
    op.drop_column('contests', 'show_counts')
    op.drop_column('contests', 'max_orders_per_day')
    op.drop_column('contests', 'max_orders_per_minute')
    op.drop_table('voter_preferences')
    op.drop_index(op.f('ix_ussd_session_events_session_id'), table_name='ussd_session_events')
    op.drop_table('ussd_session_events')
    op.drop_table('blocked_msisdns')
