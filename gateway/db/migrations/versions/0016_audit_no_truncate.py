"""the audit trail refuses TRUNCATE too: the row trigger of 0008 never fires for it

Revision ID: 0016_audit_no_truncate
Revises: 0015_auth_signin_hardening
Create Date: 2026-11-23 09:40:00
"""
from __future__ import annotations

from alembic import op

revision = '0016_audit_no_truncate'
down_revision = '0015_auth_signin_hardening'
branch_labels = None
depends_on = None

# A statement trigger, not a revoked privilege: the application may connect as the tables' owner (or, on a
# small install, as a superuser), whom no REVOKE binds; a trigger fires for every role. The function is
# 0008's, which names the refused operation (TG_OP is TRUNCATE here).
NO_TRUNCATE = """
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
"""


def upgrade() -> None:
    op.execute(NO_TRUNCATE)


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
