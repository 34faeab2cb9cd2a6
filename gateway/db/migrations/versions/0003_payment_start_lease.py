"""payment start lease: a start claims its order for a bounded time instead of a row lock

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('vote_orders', sa.Column('start_lease_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('vote_orders', 'start_lease_until')
