"""bundles, a contest's price tiers

Revision ID: 0040_price_tiers
Revises: 0039_contest_rounds
Create Date: 2026-11-28 00:00:00

A contest's bundles ("10 votes 900 XAF") as one JSONB list of {"votes": n, "amount": minor units} on its row: a
round's terms are copied into the contest's columns when it opens, and a list copies as one value. An empty list
(every contest before this) sells each vote at price_per_vote, as before.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0040_price_tiers'
down_revision = '0039_contest_rounds'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('contests', sa.Column('price_tiers', postgresql.JSONB(astext_type=sa.Text()),
                                        server_default=sa.text("'[]'::jsonb"), nullable=False))


def downgrade() -> None:
    op.drop_column('contests', 'price_tiers')
