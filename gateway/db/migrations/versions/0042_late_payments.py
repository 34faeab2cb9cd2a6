"""payments that arrive after the lines closed

Revision ID: 0042_late_payments
Revises: 0041_jury_scores
Create Date: 2026-11-28 00:00:00
"""
from __future__ import annotations

revision = '0042_late_payments'
down_revision = '0041_jury_scores'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
