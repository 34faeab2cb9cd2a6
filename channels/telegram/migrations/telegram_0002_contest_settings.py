"""Telegram's setting of a contest (mobile money in the bot) leaves `contests` for `telegram_contests`

Revision ID: telegram_0002_contest_settings
Revises: telegram_0001_adopt_tables
Create Date: 2026-11-23 14:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "telegram_0002_contest_settings"
down_revision = "telegram_0001_adopt_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_contests",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("mobile_money", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"],
                                name=op.f("fk_telegram_contests_contest_id_contests"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contest_id", name=op.f("pk_telegram_contests")),
    )
    op.execute("INSERT INTO telegram_contests (contest_id, mobile_money) SELECT id, telegram_mobile_money "
               "FROM contests WHERE telegram_mobile_money")
    op.drop_column("contests", "telegram_mobile_money")


def downgrade() -> None:
    op.add_column("contests", sa.Column("telegram_mobile_money", sa.Boolean(), server_default="false",
                                        nullable=False))
    op.execute("UPDATE contests SET telegram_mobile_money = t.mobile_money FROM telegram_contests t "
               "WHERE t.contest_id = contests.id")
    op.drop_table("telegram_contests")
