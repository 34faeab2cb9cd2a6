"""a contest's rounds: each its own window, price and board; orders belong to one

Revision ID: 0039_contest_rounds
Revises: 0038_outbox_undelivered
Create Date: 2026-11-28 00:00:00

A contest without rounds is a one-round show as before: every new column is NULL for it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0039_contest_rounds'
down_revision = '0038_outbox_undelivered'
branch_labels = None
depends_on = None

ROUND_STATUS = postgresql.ENUM('planned', 'open', 'decided', name='round_status', create_type=False)


def upgrade() -> None:
    ROUND_STATUS.create(op.get_bind(), checkfirst=True)
    op.create_table(
        'contest_rounds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contest_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('status', ROUND_STATUS, server_default='planned', nullable=False),
        sa.Column('price_per_vote', sa.BigInteger(), nullable=False),
        sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('carry_counts', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.String(length=16), nullable=True),
        sa.Column('decision_reason', sa.Text(), nullable=True),
        sa.CheckConstraint('number >= 1', name=op.f('ck_contest_rounds_number_positive')),
        sa.CheckConstraint('price_per_vote > 0', name=op.f('ck_contest_rounds_price_positive')),
        sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], ondelete='CASCADE',
                                name=op.f('fk_contest_rounds_contest_id_contests')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contest_rounds')),
    )
    op.create_index('uq_contest_rounds_contest_number', 'contest_rounds', ['contest_id', 'number'], unique=True)
    op.create_index('uq_contest_rounds_open', 'contest_rounds', ['contest_id'], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        'round_baselines',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('votes', sa.BigInteger(), nullable=False),
        sa.Column('final_votes', sa.BigInteger(), nullable=True),
        sa.Column('went_through', sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(['round_id'], ['contest_rounds.id'], ondelete='CASCADE',
                                name=op.f('fk_round_baselines_round_id_contest_rounds')),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE',
                                name=op.f('fk_round_baselines_candidate_id_candidates')),
        sa.PrimaryKeyConstraint('round_id', 'candidate_id', name=op.f('pk_round_baselines')),
    )
    op.add_column('contests', sa.Column('current_round_id', sa.Integer(), nullable=True))
    op.create_foreign_key('fk_contests_current_round_id_contest_rounds', 'contests', 'contest_rounds',
                          ['current_round_id'], ['id'])
    op.add_column('vote_orders', sa.Column('round_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_vote_orders_round_id_contest_rounds'), 'vote_orders', 'contest_rounds',
                          ['round_id'], ['id'])
    op.add_column('results_sheets', sa.Column('round_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_results_sheets_round_id_contest_rounds'), 'results_sheets', 'contest_rounds',
                          ['round_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    op.drop_constraint(op.f('fk_results_sheets_round_id_contest_rounds'), 'results_sheets', type_='foreignkey')
    op.drop_column('results_sheets', 'round_id')
    op.drop_constraint(op.f('fk_vote_orders_round_id_contest_rounds'), 'vote_orders', type_='foreignkey')
    op.drop_column('vote_orders', 'round_id')
    op.drop_constraint('fk_contests_current_round_id_contest_rounds', 'contests', type_='foreignkey')
    op.drop_column('contests', 'current_round_id')
    op.drop_table('round_baselines')
    op.drop_index('uq_contest_rounds_open', table_name='contest_rounds')
    op.drop_index('uq_contest_rounds_contest_number', table_name='contest_rounds')
    op.drop_table('contest_rounds')
    ROUND_STATUS.drop(op.get_bind(), checkfirst=True)
