"""a round's own bundles, copied into its contest's terms when it opens

Revision ID: 0044_round_bundles
Revises: 0043_free_votes
Create Date: 2026-11-28 00:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0044_round_bundles'
down_revision = '0043_free_votes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('contest_rounds', sa.Column('price_tiers', postgresql.JSONB(astext_type=sa.Text()),
                                              server_default=sa.text("'[]'::jsonb"), nullable=False))


def downgrade() -> None:
    op.drop_column('contest_rounds', 'price_tiers')
