"""the fraud rules' counters (kept as orders are placed, read in O(1)), the addresses learned to be shared, and an
order's fraud score

Revision ID: 0025_fraud_counters
Revises: 0024_order_fraud_figures
Create Date: 2026-11-24 05:00:00

New tables, and a nullable column without a default on vote_orders (no rewrite). The counters start empty: for a
day after the upgrade an open contest's figures count only the orders placed since (the rules are softer for that
day, never harder), and so do the bounds that spare the exact count of a payer's orders against the contest's hard
limits: upgrade between shows, or a payer may pass a day's limit by the orders they placed before the upgrade.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0025_fraud_counters'
down_revision = '0024_order_fraud_figures'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fraud_counts",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("current", sa.BigInteger(), nullable=False),
        sa.Column("previous", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("contest_id", "name", "subject", name=op.f("pk_fraud_counts")),
    )
    op.create_table(
        "fraud_members",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("member", sa.Text(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("previous_bucket", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("contest_id", "name", "subject", "member", name=op.f("pk_fraud_members")),
    )
    op.create_table(
        "shared_addresses",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("numbers", sa.Integer(), nullable=False),
        sa.Column("paid_orders", sa.Integer(), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_shared_addresses")),
    )
    op.add_column("vote_orders", sa.Column("fraud_score", sa.Integer(), nullable=True))
    # Rows updated by every vote (a carrier address's counters, a candidate's tally, a contest's ledger head): room
    # on their page for the new version keeps each update HOT (no new index entry), so a lookup of the key does not
    # wade through the index entries of thousands of dead versions until vacuum comes by. Settings only: no rewrite.
    for table in HOT_TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


HOT_TABLES = ("fraud_counts", "fraud_members", "tallies", "ledger_heads")


def downgrade() -> None:
    for table in ("tallies", "ledger_heads"):
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    op.drop_column("vote_orders", "fraud_score")
    op.drop_table("shared_addresses")
    op.drop_table("fraud_members")
    op.drop_table("fraud_counts")
