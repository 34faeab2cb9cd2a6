"""a contest's rounds

Revision ID: 0039_contest_rounds
Revises: 0038_outbox_undelivered
Create Date: 2026-11-28 00:00:00
"""
from __future__ import annotations

revision = '0039_contest_rounds'
down_revision = '0038_outbox_undelivered'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
