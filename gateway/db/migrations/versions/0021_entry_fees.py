"""an entry fee: a call's fee, an entry's payment of it, and orders that buy an entry instead of votes

Revision ID: 0021_entry_fees
Revises: 0020_video_entries
Create Date: 2026-11-23 23:40:00

An order now buys one thing: votes for a candidate, or an entry's fee. The check that says so is added
NOT VALID and validated after, so the table is not held under its strongest lock while every row is read.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0021_entry_fees'
down_revision = '0020_video_entries'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entry_calls", sa.Column("fee_amount", sa.BigInteger(), nullable=True))
    op.create_check_constraint(op.f("ck_entry_calls_fee_positive"), "entry_calls", "fee_amount IS NULL OR fee_amount > 0")
    op.add_column("entries", sa.Column("fee_paid_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("vote_orders", sa.Column("entry_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key(op.f("fk_vote_orders_entry_id_entries"), "vote_orders", "entries", ["entry_id"], ["id"])
    op.alter_column("vote_orders", "candidate_id", nullable=True)
    op.execute("ALTER TABLE vote_orders ADD CONSTRAINT ck_vote_orders_buys_one_thing "
               "CHECK (num_nonnulls(candidate_id, entry_id) = 1) NOT VALID")
    op.execute("ALTER TABLE vote_orders VALIDATE CONSTRAINT ck_vote_orders_buys_one_thing")
    # One payment of an entry's fee waits at a time: two at once could both be paid.
    op.create_index("uq_vote_orders_entry_pending", "vote_orders", ["entry_id"], unique=True,
                    postgresql_where=sa.text("entry_id IS NOT NULL AND status = 'pending'"))


def downgrade() -> None:
    op.drop_index("uq_vote_orders_entry_pending", table_name="vote_orders")
    op.execute("DELETE FROM vote_orders WHERE entry_id IS NOT NULL")
    op.drop_constraint(op.f("ck_vote_orders_buys_one_thing"), "vote_orders", type_="check")
    op.alter_column("vote_orders", "candidate_id", nullable=False)
    op.drop_constraint(op.f("fk_vote_orders_entry_id_entries"), "vote_orders", type_="foreignkey")
    op.drop_column("vote_orders", "entry_id")
    op.drop_column("entries", "fee_paid_at")
    op.drop_constraint(op.f("ck_entry_calls_fee_positive"), "entry_calls", type_="check")
    op.drop_column("entry_calls", "fee_amount")
