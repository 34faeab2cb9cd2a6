"""the jury's scores

Revision ID: 0041_jury_scores
Revises: 0040_price_tiers
Create Date: 2026-11-28 00:00:00
"""
from __future__ import annotations

revision = '0041_jury_scores'
down_revision = '0040_price_tiers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
