"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 05:41:51.433117
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('role', sa.String(length=32), server_default='organiser', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_users')),
    sa.UniqueConstraint('email', name=op.f('uq_admin_users_email'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_table('contests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('draft', 'open', 'paused', 'closed', name='contest_status'), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('price_per_vote', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('max_votes_per_order', sa.Integer(), nullable=False),
    sa.Column('ussd_service_codes', postgresql.ARRAY(sa.String(length=32)), server_default='{}', nullable=False),
    sa.Column('sms_short_code', sa.String(length=16), nullable=True),
    sa.Column('sms_keyword', sa.String(length=32), nullable=True),
    sa.Column('providers', postgresql.ARRAY(sa.String(length=32)), server_default='{}', nullable=False),
    sa.Column('default_language', sa.String(length=2), server_default='fr', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_contests_closes_after_opens')),
    sa.CheckConstraint('max_votes_per_order >= 1', name=op.f('ck_contests_max_votes_positive')),
    sa.CheckConstraint('price_per_vote > 0', name=op.f('ck_contests_price_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contests')),
    sa.UniqueConstraint('slug', name=op.f('uq_contests_slug'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    op.create_index('ix_outbox_unenqueued', 'outbox', ['id'], unique=False, postgresql_where=sa.text('enqueued_at IS NULL'))
    op.create_table('provider_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=True),
    sa.Column('order_id', sa.UUID(), nullable=True),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=100), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_events'))
    )
    op.create_index('ix_provider_events_order', 'provider_events', ['order_id'], unique=False)
    op.create_index('uq_provider_events_event_id', 'provider_events', ['provider', 'event_id'], unique=True, postgresql_where=sa.text('event_id IS NOT NULL'))
    op.create_table('candidates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('active', 'eliminated', 'hidden', name='candidate_status'), server_default='active', nullable=False),
    sa.Column('photo_url', sa.Text(), nullable=True),
    sa.Column('bio', sa.Text(), nullable=True),
    sa.CheckConstraint("code ~ '^[0-9]{1,8}$'", name=op.f('ck_candidates_code_numeric')),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_candidates_contest_id_contests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidates')),
    sa.UniqueConstraint('contest_id', 'code', name='uq_candidates_contest_code')
    )
    op.create_table('tallies',
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('votes', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('votes >= 0', name=op.f('ck_tallies_votes_not_negative')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_tallies_candidate_id_candidates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_tallies_contest_id_contests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('candidate_id', name=op.f('pk_tallies'))
    )
    op.create_index(op.f('ix_tallies_contest_id'), 'tallies', ['contest_id'], unique=False)
    op.create_table('vote_orders',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('payment_reference', sa.UUID(), nullable=False),
    sa.Column('client_key', sa.String(length=200), nullable=True),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('channel', sa.Enum('ussd', 'sms', 'telegram', 'web', name='channel'), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('voter_msisdn', sa.String(length=20), nullable=True),
    sa.Column('voter_ref', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum('pending', 'paid', 'failed', 'expired', 'flagged', 'refund_requested', 'refunded', name='order_status'), server_default='pending', nullable=False),
    sa.Column('provider_txn_id', sa.String(length=200), nullable=True),
    sa.Column('provider_data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('payment_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("voter_msisdn IS NULL OR voter_msisdn ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_vote_orders_msisdn_e164')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_vote_orders_amount_positive')),
    sa.CheckConstraint('quantity >= 1', name=op.f('ck_vote_orders_quantity_positive')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_vote_orders_candidate_id_candidates')),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_vote_orders_contest_id_contests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vote_orders')),
    sa.UniqueConstraint('client_key', name=op.f('uq_vote_orders_client_key')),
    sa.UniqueConstraint('payment_reference', name=op.f('uq_vote_orders_payment_reference'))
    )
    op.create_index('ix_vote_orders_paid', 'vote_orders', ['candidate_id'], unique=False, postgresql_where=sa.text("status = 'paid'"))
    op.create_index('ix_vote_orders_pending', 'vote_orders', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_vote_orders_voter', 'vote_orders', ['voter_msisdn', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_vote_orders_voter', table_name='vote_orders')
    op.drop_index('ix_vote_orders_pending', table_name='vote_orders', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_vote_orders_paid', table_name='vote_orders', postgresql_where=sa.text("status = 'paid'"))
    op.drop_table('vote_orders')
    op.drop_index(op.f('ix_tallies_contest_id'), table_name='tallies')
    op.drop_table('tallies')
    op.drop_table('candidates')
    op.drop_index('uq_provider_events_event_id', table_name='provider_events', postgresql_where=sa.text('event_id IS NOT NULL'))
    op.drop_index('ix_provider_events_order', table_name='provider_events')
    op.drop_table('provider_events')
    op.drop_index('ix_outbox_unenqueued', table_name='outbox', postgresql_where=sa.text('enqueued_at IS NULL'))
    op.drop_table('outbox')
    op.drop_table('contests')
    op.drop_table('audit_log')
    op.drop_table('admin_users')
    for enum_type in ('order_status', 'channel', 'candidate_status', 'contest_status'):
        op.execute(f'DROP TYPE IF EXISTS {enum_type}')
