"""USSD's own tables: a contest's USSD settings (the SMS after a vote may be turned off) and the SMS that follow a
USSD vote once its order is decided

Revision ID: ussd_0001_receipt_texts
Revises:
Create Date: 2026-11-28 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "ussd_0001_receipt_texts"
down_revision = None
branch_labels = ("ussd",)
depends_on = "0019_order_sends_receipt"


def upgrade() -> None:
    op.create_table(
        "ussd_contests",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("no_receipt_sms", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"], name=op.f("fk_ussd_contests_contest_id_contests"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contest_id", name=op.f("pk_ussd_contests")),
    )
    op.create_table(
        "ussd_receipt_texts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at_message_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=32), server_default="queued", nullable=False),
        sa.Column("failure_reason", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ussd_receipt_texts")),
        sa.UniqueConstraint("order_id", "kind", name=op.f("uq_ussd_receipt_texts_order_id")),
    )


def downgrade() -> None:
    op.drop_table("ussd_receipt_texts")
    op.drop_table("ussd_contests")
