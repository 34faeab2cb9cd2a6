"""bundles, a contest's price tiers

Revision ID: 0040_price_tiers
Revises: 0039_contest_rounds
Create Date: 2026-11-28 00:00:00
"""
from __future__ import annotations

revision = '0040_price_tiers'
down_revision = '0039_contest_rounds'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
