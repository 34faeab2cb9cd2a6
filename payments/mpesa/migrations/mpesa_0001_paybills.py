"""M-Pesa's paybill of a contest, and what becomes of money that buys no whole vote

Revision ID: mpesa_0001_paybills
Revises:
Create Date: 2026-11-28 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mpesa_0001_paybills"
down_revision = None
branch_labels = ("mpesa",)
depends_on = "0036_sealed_totp_secrets"


def upgrade() -> None:
    op.create_table(
        "mpesa_contests",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("paybill", sa.String(length=7), nullable=True),
        sa.Column("remainder", sa.String(length=8), server_default="hold", nullable=False),
        sa.CheckConstraint("remainder IN ('hold', 'refund')", name=op.f("ck_mpesa_contests_remainder_known")),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"], name=op.f("fk_mpesa_contests_contest_id_contests"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contest_id", name=op.f("pk_mpesa_contests")),
    )
    op.create_index(op.f("ix_mpesa_contests_paybill"), "mpesa_contests", ["paybill"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_mpesa_contests_paybill"), table_name="mpesa_contests")
    op.drop_table("mpesa_contests")
