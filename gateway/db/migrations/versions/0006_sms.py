"""SMS: inbound and outbound messages over Africa's Talking

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 21:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sms_inbound',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at_id', sa.String(length=100), nullable=False),
    sa.Column('msisdn', sa.String(length=20), nullable=False),
    sa.Column('short_code', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('link_id', sa.String(length=200), nullable=True),
    sa.Column('network_code', sa.String(length=32), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('order_id', postgresql.UUID(as_uuid=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_inbound')),
    sa.UniqueConstraint('at_id', name=op.f('uq_sms_inbound_at_id'))
    )
    op.create_table('sms_messages',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', postgresql.UUID(as_uuid=True), nullable=True),
    sa.Column('inbound_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('msisdn', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at_message_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=32), server_default='queued', nullable=False),
    sa.Column('failure_reason', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['inbound_id'], ['sms_inbound.id'], name=op.f('fk_sms_messages_inbound_id_sms_inbound'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages')),
    sa.UniqueConstraint('order_id', 'kind', name=op.f('uq_sms_messages_order_id')),
    sa.UniqueConstraint('inbound_id', 'kind', name=op.f('uq_sms_messages_inbound_id'))
    )
    op.create_index(op.f('ix_sms_messages_at_message_id'), 'sms_messages', ['at_message_id'], unique=False)
    op.create_table('sms_opt_outs',
    sa.Column('msisdn', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('msisdn', name=op.f('pk_sms_opt_outs'))
    )


def downgrade() -> None:
    op.drop_table('sms_opt_outs')
    op.drop_index(op.f('ix_sms_messages_at_message_id'), table_name='sms_messages')
    op.drop_table('sms_messages')
    op.drop_table('sms_inbound')
