"""contest settings: a board sealed until close, candidates' display order, blocked addresses

Revision ID: 0010_contest_settings
Revises: 0009
Create Date: 2026-11-23 01:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010_contest_settings'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('contests', sa.Column('board_sealed', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('candidates', sa.Column('position', sa.Integer(), server_default='0', nullable=False))
    # Existing candidates keep the order they were listed in: their codes' order.
    op.execute("UPDATE candidates SET position = ranked.n FROM (SELECT id, row_number() OVER "
               "(PARTITION BY contest_id ORDER BY length(code), code) AS n FROM candidates) AS ranked "
               "WHERE candidates.id = ranked.id")
    op.create_table(
        'blocked_addresses',
        sa.Column('network', postgresql.CIDR(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('network', name=op.f('pk_blocked_addresses')),
    )


def downgrade() -> None:
    op.drop_table('blocked_addresses')
    op.drop_column('candidates', 'position')
    op.drop_column('contests', 'board_sealed')
