"""admin sign-in: an account keeps the last TOTP time step a sign-in used (that code and any older one are
refused); failed sign-ins are counted in Redis per (email, address) and per email, not on the account

Revision ID: 0015_auth_signin_hardening
Revises: 0014_order_language
Create Date: 2026-11-23 09:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_auth_signin_hardening'
down_revision = '0014_order_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("admin_users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.drop_column("admin_users", "locked_until")
    op.drop_column("admin_users", "failed_signins")


def downgrade() -> None:
    op.add_column("admin_users", sa.Column("failed_signins", sa.Integer(), server_default="0", nullable=False))
    op.add_column("admin_users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_column("admin_users", "totp_last_step")
