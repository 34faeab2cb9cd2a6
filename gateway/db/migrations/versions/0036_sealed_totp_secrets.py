"""admin area: each account's TOTP secret kept sealed (ADMIN_TOTP_KEYS), not in clear

Revision ID: 0036_sealed_totp_secrets
Revises: 0035_fee_bands
Create Date: 2026-11-27 04:00:00

A base backup or an archived WAL segment held every admin's second factor in clear. The secret is now kept in
totp_secret_sealed, sealed with a key from the settings (admin/totp_keys.py). A migration cannot reach that key (it
runs wherever the schema is brought up: `gateway migrate`, `gateway run`, the tests, a restore drill), so the clear
secrets of the accounts made before are sealed by the code that holds it: every web process at its start, and
`gateway admin rotate-totp-key`; until then a sign-in still reads them. A row never holds both.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0036_sealed_totp_secrets'
down_revision = '0035_fee_bands'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("admin_users", sa.Column("totp_secret_sealed", sa.Text(), nullable=True))
    op.create_check_constraint("ck_admin_users_one_totp_secret", "admin_users",
                               "totp_secret IS NULL OR totp_secret_sealed IS NULL")


def downgrade() -> None:
    # The release before reads secrets in clear only, and nothing here holds the key to open the sealed ones: going
    # back would leave those accounts unable to sign in. Refuse, and say so.
    sealed = op.get_bind().scalar(sa.text("SELECT count(*) FROM admin_users WHERE totp_secret_sealed IS NOT NULL"))
    if sealed:
        raise RuntimeError(f"{sealed} admin accounts have a sealed TOTP secret, which the release before cannot read: "
                           "delete those accounts (and make them again after the downgrade) to go back")
    op.drop_constraint("ck_admin_users_one_totp_secret", "admin_users", type_="check")
    op.drop_column("admin_users", "totp_secret_sealed")
