"""Telegram adopts its tables: telegram_updates and telegram_receipts, created by the core's history (0007,
0017) before channels had branches of their own, belong to this branch from here on. Nothing is created or
dropped: a fresh database has them from the core's chain, an existing one keeps them and their rows.

Revision ID: telegram_0001_adopt_tables
Revises:
Create Date: 2026-11-23 14:00:00
"""
from __future__ import annotations

revision = "telegram_0001_adopt_tables"
down_revision = None
branch_labels = ("telegram",)
depends_on = "0017_telegram_update_failure"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass  # the tables stay: the core's history below made them
