"""the jury's scores, sealed until revealed, and the result's formula

Revision ID: 0041_jury_scores
Revises: 0040_price_tiers
Create Date: 2026-11-28 00:00:00

A contest may be decided by the public and a jury together: `contests.public_weight_pct` is the public's share of
the result (100, every contest made before: the public alone), the jury's the rest. Jurors are accounts of the new
`jury` role given a seat on a contest (`jury_seats`); each gives each candidate points within the contest's range
(`jury_ranges`, 0-10 unless the organiser set another), one row per juror and candidate (`jury_scores`, with the
round scored, NULL for the contest itself), sealed until the organiser reveals them (`jury_reveals`).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0041_jury_scores'
down_revision = '0040_price_tiers'
branch_labels = None
depends_on = None


def fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}",
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.add_column("contests", sa.Column("public_weight_pct", sa.Integer(), server_default="100", nullable=False))
    op.create_check_constraint("ck_contests_public_weight_within_whole", "contests",
                               "public_weight_pct BETWEEN 0 AND 100")
    op.create_table(
        "jury_seats",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("seated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("seated_by", sa.String(254), nullable=False),
        fk("jury_seats", "contest_id", "contests"), fk("jury_seats", "admin_id", "admin_users"),
        sa.PrimaryKeyConstraint("contest_id", "admin_id", name="pk_jury_seats"),
    )
    op.create_index("ix_jury_seats_admin_id", "jury_seats", ["admin_id"])
    op.create_table(
        "jury_ranges",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("min_points", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_points", sa.Integer(), server_default="10", nullable=False),
        sa.CheckConstraint("min_points >= 0 AND max_points > min_points AND max_points <= 1000",
                           name="ck_jury_ranges_points_range"),
        fk("jury_ranges", "contest_id", "contests"),
        sa.PrimaryKeyConstraint("contest_id", name="pk_jury_ranges"),
    )
    op.create_table(
        "jury_scores",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("points >= 0", name="ck_jury_scores_points_not_negative"),
        fk("jury_scores", "contest_id", "contests"), fk("jury_scores", "admin_id", "admin_users"),
        fk("jury_scores", "candidate_id", "candidates"),
        sa.PrimaryKeyConstraint("id", name="pk_jury_scores"),
        sa.UniqueConstraint("contest_id", "round_id", "admin_id", "candidate_id", name="uq_jury_scores_one_each",
                            postgresql_nulls_not_distinct=True),
    )
    op.create_index("ix_jury_scores_contest_id", "jury_scores", ["contest_id"])
    op.create_table(
        "jury_reveals",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("revealed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("revealed_by", sa.String(254), nullable=False),
        fk("jury_reveals", "contest_id", "contests"),
        sa.PrimaryKeyConstraint("contest_id", name="pk_jury_reveals"),
    )


def downgrade() -> None:
    op.drop_table("jury_reveals")
    op.drop_table("jury_scores")
    op.drop_table("jury_ranges")
    op.drop_table("jury_seats")
    op.drop_constraint("ck_contests_public_weight_within_whole", "contests", type_="check")
    op.drop_column("contests", "public_weight_pct")
