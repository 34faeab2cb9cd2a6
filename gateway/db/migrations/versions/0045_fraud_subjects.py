"""the fraud rules' counters kept as one row per subject (its counters' buckets as columns), not one per counter

Revision ID: 0045_fraud_subjects
Revises: 0044_round_bundles
Create Date: 2026-11-29 20:00:00

An order from a new payer and address wrote seven counter rows; it now writes two. The counters kept so far are
carried over, so an open contest's figures go on from where they were; the code before this revision reads the old
table, so stop the web and worker processes for the upgrade (a second's work for a day of a show's counters).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0045_fraud_subjects'
down_revision = '0044_round_bundles'
branch_labels = None
depends_on = None

# As the code of this revision names them (gateway.db.models.fraud.COUNTERS_BY_KIND), frozen here.
COUNTERS_BY_KIND = {
    "payer": ("payer_orders_10_minutes", "payer_orders_minute", "payer_orders_day", "payer_votes_day"),
    "address": ("address_orders_10_minutes", "address_candidates_hour", "address_numbers_day"),
    "voter": ("voter_orders_10_minutes", "voter_numbers"),
    "history": ("payer_refused", "voter_refused", "payer_paid_quick"),
}
NAMES = tuple(dict.fromkeys(name for names in COUNTERS_BY_KIND.values() for name in names))
PARTS = ("bucket", "current", "previous")
KIND_OF_ROW = ("CASE " + " ".join(f"WHEN name IN ({', '.join(repr(n) for n in names)}) THEN '{kind}'"
                          for kind, names in COUNTERS_BY_KIND.items()) + " END")


def upgrade() -> None:
    op.create_table(
        "fraud_subjects",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        *(sa.Column(f"{name}_{part}", sa.BigInteger(), nullable=True) for name in NAMES for part in PARTS),
        sa.PrimaryKeyConstraint("contest_id", "kind", "subject", name=op.f("pk_fraud_subjects")),
    )
    # Updated by every order of its subject (a carrier address's by thousands): room on the page keeps it HOT.
    op.execute("ALTER TABLE fraud_subjects SET (fillfactor = 50)")
    columns = ", ".join(f"{name}_{part}" for name in NAMES for part in PARTS)
    pivoted = ", ".join(f"max({part}) FILTER (WHERE name = '{name}')" for name in NAMES for part in PARTS)
    op.execute(f"INSERT INTO fraud_subjects (contest_id, kind, subject, {columns}) "
               f"SELECT contest_id, kind, subject, {pivoted} "
               f"FROM (SELECT *, {KIND_OF_ROW} AS kind FROM fraud_counts) AS counts "
               "WHERE kind IS NOT NULL GROUP BY contest_id, kind, subject")
    op.drop_table("fraud_counts")


def downgrade() -> None:
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
    op.execute("ALTER TABLE fraud_counts SET (fillfactor = 50)")
    for kind, names in COUNTERS_BY_KIND.items():
        for name in names:
            op.execute(f"INSERT INTO fraud_counts (contest_id, name, subject, bucket, current, previous) "
                       f"SELECT contest_id, '{name}', subject, {name}_bucket, coalesce({name}_current, 0), "
                       f"coalesce({name}_previous, 0) FROM fraud_subjects "
                       f"WHERE kind = '{kind}' AND {name}_bucket IS NOT NULL")
    op.drop_table("fraud_subjects")
