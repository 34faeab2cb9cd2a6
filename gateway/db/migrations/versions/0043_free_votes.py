"""free votes: a contest's allowance per proven number (per day or per round), the votes taken and their tallies

A free vote is no order: it has its own table (`free_votes`, one row a vote, a unique slot per number and period so
no race takes more than the allowance) and its own tallies (`free_tallies`), moved from the ledger's `free` entries
(gateway.core.orders.free_votes). Contests give none until an organiser sets `free_votes_per_day`.

Revision ID: 0043_free_votes
Revises: 0042_late_payments
Create Date: 2026-11-28 00:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0043_free_votes'
down_revision = '0042_late_payments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('contests', sa.Column('free_votes_per_day', sa.Integer(), server_default='0', nullable=False))
    op.add_column('contests', sa.Column('free_votes_per', sa.String(8), server_default='day', nullable=False))
    op.add_column('contests', sa.Column('free_vote_weight', sa.String(8), server_default='apart', nullable=False))
    op.create_check_constraint('ck_contests_free_votes_not_negative', 'contests', 'free_votes_per_day >= 0')
    op.create_check_constraint('ck_contests_free_votes_per_known', 'contests', "free_votes_per IN ('day', 'round')")
    op.create_check_constraint('ck_contests_free_vote_weight_known', 'contests',
                               "free_vote_weight IN ('counted', 'apart')")
    op.create_table(
        'free_votes',
        sa.Column('id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('contest_id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=True),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('msisdn', sa.String(20), nullable=False),
        sa.Column('period', sa.String(32), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(16), nullable=False),
        sa.Column('voter_address', sa.String(64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('slot >= 1', name=op.f('ck_free_votes_slot_positive')),
        sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], ondelete='CASCADE',
                                name=op.f('fk_free_votes_contest_id_contests')),
        sa.ForeignKeyConstraint(['round_id'], ['contest_rounds.id'], ondelete='SET NULL',
                                name=op.f('fk_free_votes_round_id_contest_rounds')),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE',
                                name=op.f('fk_free_votes_candidate_id_candidates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_free_votes')),
    )
    op.create_index('uq_free_votes_number_slot', 'free_votes', ['contest_id', 'msisdn', 'period', 'slot'],
                    unique=True)
    op.create_index('ix_free_votes_contest_created', 'free_votes', ['contest_id', 'created_at'])
    op.create_table(
        'free_tallies',
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('contest_id', sa.Integer(), nullable=False),
        sa.Column('votes', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('votes >= 0', name=op.f('ck_free_tallies_free_votes_not_negative')),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE',
                                name=op.f('fk_free_tallies_candidate_id_candidates')),
        sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], ondelete='CASCADE',
                                name=op.f('fk_free_tallies_contest_id_contests')),
        sa.PrimaryKeyConstraint('candidate_id', name=op.f('pk_free_tallies')),
    )
    op.create_index('ix_free_tallies_contest_id', 'free_tallies', ['contest_id'])


def downgrade() -> None:
    # A free vote's ledger entries stay in the chain (entries are never changed): a later upgrade's verification
    # counts them apart again.
    op.drop_index('ix_free_tallies_contest_id', table_name='free_tallies')
    op.drop_table('free_tallies')
    op.drop_index('ix_free_votes_contest_created', table_name='free_votes')
    op.drop_index('uq_free_votes_number_slot', table_name='free_votes')
    op.drop_table('free_votes')
    op.drop_constraint('ck_contests_free_vote_weight_known', 'contests', type_='check')
    op.drop_constraint('ck_contests_free_votes_per_known', 'contests', type_='check')
    op.drop_constraint('ck_contests_free_votes_not_negative', 'contests', type_='check')
    op.drop_column('contests', 'free_vote_weight')
    op.drop_column('contests', 'free_votes_per')
    op.drop_column('contests', 'free_votes_per_day')
