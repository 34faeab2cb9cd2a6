"""Admin area: accounts, sessions, audit trail and held orders

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 21:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# PostgreSQL itself keeps the audit trail append-only: no UPDATE or DELETE of a row, whoever asks.
APPEND_ONLY = ("""
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$
""", """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
""")


def upgrade() -> None:
    op.add_column('admin_users', sa.Column('totp_confirmed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('admin_users', sa.Column('failed_signins', sa.Integer(), server_default='0', nullable=False))
    op.add_column('admin_users', sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('admin_users', sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))
    op.add_column('audit_log', sa.Column('address', sa.String(length=64), nullable=True))
    op.add_column('audit_log', sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('audit_log', sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_index('ix_audit_log_target', 'audit_log', ['target', 'created_at'], unique=False)
    op.create_table('admin_refresh_tokens',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.Column('family', sa.UUID(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['admin_id'], ['admin_users.id'], name=op.f('fk_admin_refresh_tokens_admin_id_admin_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_admin_refresh_tokens_token_hash'))
    )
    op.create_index(op.f('ix_admin_refresh_tokens_admin_id'), 'admin_refresh_tokens', ['admin_id'], unique=False)
    op.create_index(op.f('ix_admin_refresh_tokens_family'), 'admin_refresh_tokens', ['family'], unique=False)
    op.create_table('contest_organisers',
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['admin_users.id'], name=op.f('fk_contest_organisers_admin_id_admin_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_contest_organisers_contest_id_contests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contest_id', 'admin_id', name=op.f('pk_contest_organisers'))
    )
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table('contest_organisers')
    op.drop_index(op.f('ix_admin_refresh_tokens_family'), table_name='admin_refresh_tokens')
    op.drop_index(op.f('ix_admin_refresh_tokens_admin_id'), table_name='admin_refresh_tokens')
    op.drop_table('admin_refresh_tokens')
    op.drop_index('ix_audit_log_target', table_name='audit_log')
    op.drop_column('audit_log', 'after')
    op.drop_column('audit_log', 'before')
    op.drop_column('audit_log', 'address')
    op.drop_column('admin_users', 'token_version')
    op.drop_column('admin_users', 'locked_until')
    op.drop_column('admin_users', 'failed_signins')
    op.drop_column('admin_users', 'totp_confirmed_at')
