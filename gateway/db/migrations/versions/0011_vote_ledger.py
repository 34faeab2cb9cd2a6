"""vote ledger: a hash chain of counting events per contest, its checkpoints, and signed results sheets

Orders already paid before this revision open each contest's chain (kind `opening`, in the order they
were decided), so that a contest's ledger counts what its tallies count from the start.

Revision ID: 0011_vote_ledger
Revises: 0013
Create Date: 2026-11-23 01:00:00
"""
from __future__ import annotations

import itertools

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gateway.core.results.ledger_chain import LedgerEvent, chain

revision = '0011_vote_ledger'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_heads',
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.LargeBinary(), nullable=False),
    sa.Column('prev_hash', sa.LargeBinary(), nullable=False),
    sa.Column('last_event', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_ledger_heads_contest_id_contests'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contest_id', name=op.f('pk_ledger_heads'))
    )
    op.create_table('ledger_entries',
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('order_id', postgresql.UUID(as_uuid=True), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('provider_txn_id', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.LargeBinary(), nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_ledger_entries_contest_id_contests'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contest_id', 'seq', name=op.f('pk_ledger_entries'))
    )
    op.create_index('ix_ledger_entries_order', 'ledger_entries', ['order_id'], unique=False)
    op.create_table('ledger_checkpoints',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.LargeBinary(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'],
                            name=op.f('fk_ledger_checkpoints_contest_id_contests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_checkpoints'))
    )
    op.create_index('ix_ledger_checkpoints_contest', 'ledger_checkpoints', ['contest_id', 'taken_at'],
                    unique=False)
    op.create_table('results_sheets',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('sheet', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.LargeBinary(), nullable=False),
    sa.Column('signed_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_results_sheets_contest_id_contests'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results_sheets'))
    )
    op.create_index('ix_results_sheets_contest', 'results_sheets', ['contest_id', 'created_at'], unique=False)
    open_chains()


PAID_ORDERS = sa.text(
    "SELECT contest_id, id, candidate_id, quantity, amount, currency, provider_txn_id, now() AS at "
    "FROM vote_orders WHERE status = 'paid' ORDER BY contest_id, decided_at NULLS FIRST, id")


def open_chains() -> None:
    """Each contest's paid orders become its first entries, so that the ledger's tallies are the tallies."""
    bind = op.get_bind()
    entries = sa.table('ledger_entries', *(sa.column(name) for name in (
        'contest_id', 'seq', 'kind', 'order_id', 'candidate_id', 'quantity', 'amount', 'currency',
        'provider_txn_id', 'recorded_at', 'prev_hash', 'hash')))
    heads = sa.table('ledger_heads', *(sa.column(name) for name in (
        'contest_id', 'entries', 'head_hash', 'prev_hash', 'last_event')))
    for contest_id, rows in itertools.groupby(bind.execute(PAID_ORDERS).all(), key=lambda row: row.contest_id):
        events = [LedgerEvent('opening', row.id, row.candidate_id, row.quantity, row.amount, row.currency,
                              row.provider_txn_id, row.at) for row in rows]
        made = list(chain(events))
        bind.execute(entries.insert(), [
            {'contest_id': contest_id, 'seq': entry.seq, **entry.event.__dict__, 'prev_hash': entry.prev_hash,
             'hash': entry.hash} for entry in made])
        bind.execute(heads.insert().values(contest_id=contest_id, entries=made[-1].seq, head_hash=made[-1].hash,
                                           prev_hash=made[-1].prev_hash, last_event=b''))


def downgrade() -> None:
    op.drop_index('ix_results_sheets_contest', table_name='results_sheets')
    op.drop_table('results_sheets')
    op.drop_index('ix_ledger_checkpoints_contest', table_name='ledger_checkpoints')
    op.drop_table('ledger_checkpoints')
    op.drop_index('ix_ledger_entries_order', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_table('ledger_heads')
