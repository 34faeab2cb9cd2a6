"""A contest's USSD service codes leave `contests` for `ussd_contests`, rows and all

Revision ID: ussd_0003_service_codes
Revises: ussd_0002_adopt_session_events
Create Date: 2026-11-28 04:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "ussd_0003_service_codes"
down_revision = "ussd_0002_adopt_session_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ussd_contests", sa.Column("service_codes", postgresql.ARRAY(sa.String(length=32)),
                                             server_default="{}", nullable=False))
    op.execute("INSERT INTO ussd_contests (contest_id, service_codes) SELECT id, ussd_service_codes FROM contests "
               "WHERE cardinality(ussd_service_codes) > 0 "
               "ON CONFLICT (contest_id) DO UPDATE SET service_codes = excluded.service_codes")
    op.drop_column("contests", "ussd_service_codes")


def downgrade() -> None:
    op.add_column("contests", sa.Column("ussd_service_codes", postgresql.ARRAY(sa.String(length=32)),
                                        server_default="{}", nullable=False))
    op.execute("UPDATE contests SET ussd_service_codes = u.service_codes FROM ussd_contests u "
               "WHERE u.contest_id = contests.id")
    op.drop_column("ussd_contests", "service_codes")
