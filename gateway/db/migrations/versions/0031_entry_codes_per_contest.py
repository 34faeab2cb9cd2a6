"""a contest's own day's budget of entry codes, set by its organiser with the call for entries

Revision ID: 0031_entry_codes_per_contest
Revises: 0029_orders_room_for_updates
Create Date: 2026-11-25 10:00:00

Null keeps the service's default (ENTRY_CODES_DEFAULT_PER_DAY). A nullable column without a default: adding it
rewrites nothing.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0031_entry_codes_per_contest'
down_revision = '0029_orders_room_for_updates'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entry_calls", sa.Column("codes_per_day", sa.Integer(), nullable=True))
    op.create_check_constraint(op.f("ck_entry_calls_codes_per_day_positive"), "entry_calls",
                               "codes_per_day IS NULL OR codes_per_day > 0")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_entry_calls_codes_per_day_positive"), "entry_calls", type_="check")
    op.drop_column("entry_calls", "codes_per_day")
