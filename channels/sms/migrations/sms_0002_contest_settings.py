"""SMS's settings of a contest (short code, keyword) leave `contests` for `sms_contests`, rows and all

Revision ID: sms_0002_contest_settings
Revises: sms_0001_adopt_tables
Create Date: 2026-11-23 14:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sms_0002_contest_settings"
down_revision = "sms_0001_adopt_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_contests",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("short_code", sa.String(length=16), nullable=True),
        sa.Column("keyword", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"], name=op.f("fk_sms_contests_contest_id_contests"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contest_id", name=op.f("pk_sms_contests")),
    )
    op.create_index(op.f("ix_sms_contests_short_code"), "sms_contests", ["short_code"], unique=False)
    op.execute("INSERT INTO sms_contests (contest_id, short_code, keyword) SELECT id, sms_short_code, sms_keyword "
               "FROM contests WHERE sms_short_code IS NOT NULL OR sms_keyword IS NOT NULL")
    op.drop_column("contests", "sms_keyword")
    op.drop_column("contests", "sms_short_code")


def downgrade() -> None:
    op.add_column("contests", sa.Column("sms_short_code", sa.String(length=16), nullable=True))
    op.add_column("contests", sa.Column("sms_keyword", sa.String(length=32), nullable=True))
    op.execute("UPDATE contests SET sms_short_code = s.short_code, sms_keyword = s.keyword FROM sms_contests s "
               "WHERE s.contest_id = contests.id")
    op.drop_index(op.f("ix_sms_contests_short_code"), table_name="sms_contests")
    op.drop_table("sms_contests")
