"""an admin account keeps the last TOTP time step a sign-in used, so that code (and any older one) is refused

Revision ID: 0015_auth_totp_last_step
Revises: 0014_order_language
Create Date: 2026-11-23 09:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_auth_totp_last_step'
down_revision = '0014_order_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("admin_users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("admin_users", "totp_last_step")
