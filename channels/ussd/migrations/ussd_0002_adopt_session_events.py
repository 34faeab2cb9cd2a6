"""USSD adopts its table of AT's end-of-session notifications: ussd_session_events, created by the core's history
(0002) before channels had branches of their own, belongs to this branch from here on. Nothing is created or
dropped: a fresh database has it from the core's chain, an existing one keeps it and its rows.

Revision ID: ussd_0002_adopt_session_events
Revises: ussd_0001_receipt_texts
Create Date: 2026-11-28 04:00:00
"""
from __future__ import annotations

revision = "ussd_0002_adopt_session_events"
down_revision = "ussd_0001_receipt_texts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass  # the table stays: the core's history below made it
