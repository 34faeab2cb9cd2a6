"""contests: the country their audience is in and their time zone

Revision ID: 0037_contest_markets
Revises: 0036_sealed_totp_secrets
Create Date: 2026-11-27 17:40:00

A contest was read as Cameroonian everywhere: numbers typed without a country code as +237, times shown in West Africa
Time. It now keeps its country (ISO 3166-1 alpha-2) and its IANA time zone. Contests made before are given the country
of their currency (the one whose contests use it most where several share it) and that country's main zone; a currency
of none of these keeps the old reading (Cameroon, West Africa Time), so no contest's clock moves.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0037_contest_markets'
down_revision = '0036_sealed_totp_secrets'
branch_labels = None
depends_on = None

# currency -> (country, zone): a literal table, as a migration must not follow the code's later changes.
HOMES = {
    "XAF": ("CM", "Africa/Douala"), "XOF": ("CI", "Africa/Abidjan"), "KES": ("KE", "Africa/Nairobi"),
    "UGX": ("UG", "Africa/Kampala"), "TZS": ("TZ", "Africa/Dar_es_Salaam"), "RWF": ("RW", "Africa/Kigali"),
    "NGN": ("NG", "Africa/Lagos"), "GHS": ("GH", "Africa/Accra"), "ZMW": ("ZM", "Africa/Lusaka"),
    "MWK": ("MW", "Africa/Blantyre"), "CDF": ("CD", "Africa/Kinshasa"), "ZAR": ("ZA", "Africa/Johannesburg"),
    "EUR": ("FR", "Europe/Paris"), "USD": ("US", "America/New_York"), "GBP": ("GB", "Europe/London"),
}


def upgrade() -> None:
    op.add_column("contests", sa.Column("country", sa.String(2), nullable=False, server_default="CM"))
    op.add_column("contests", sa.Column("time_zone", sa.String(64), nullable=False, server_default="Africa/Douala"))
    contests = sa.table("contests", sa.column("currency", sa.String), sa.column("country", sa.String),
                        sa.column("time_zone", sa.String))
    for currency, (country, zone) in HOMES.items():
        op.execute(contests.update().where(contests.c.currency == currency).values(country=country, time_zone=zone))
    op.create_check_constraint(op.f("ck_contests_country_code"), "contests", "country ~ '^[A-Z]{2}$'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_contests_country_code"), "contests", type_="check")
    op.drop_column("contests", "time_zone")
    op.drop_column("contests", "country")
