"""outbox: the rows handed to RQ and not yet delivered, found fast

Revision ID: 0038_outbox_undelivered
Revises: 0037_contest_markets
Create Date: 2026-11-27 00:00:00

A delivery job lives only in Redis, which a Sentinel failover can lose; the relay looks for the rows handed over
long ago and still undelivered (gateway.jobs.outbox.relay_lost). Delivered rows (nearly all) stay out of the index.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0038_outbox_undelivered'
down_revision = '0037_contest_markets'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_undelivered', 'outbox', ['enqueued_at'],
                    postgresql_where=sa.text('delivered_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_undelivered', table_name='outbox')
