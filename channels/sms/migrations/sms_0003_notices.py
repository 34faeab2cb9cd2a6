"""messages that answer no order nor inbound text (a one-time code, an entry's decision) have a notice id

Revision ID: sms_0003_notices
Revises: sms_0002_contest_settings
Create Date: 2026-11-23 20:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "sms_0003_notices"
down_revision = "sms_0002_contest_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sms_messages", sa.Column("notice_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.create_unique_constraint("uq_sms_messages_notice_id", "sms_messages", ["notice_id", "kind"])


def downgrade() -> None:
    op.drop_constraint("uq_sms_messages_notice_id", "sms_messages", type_="unique")
    op.drop_column("sms_messages", "notice_id")
