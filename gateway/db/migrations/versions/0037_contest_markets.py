"""contests: the country their audience is in and their time zone

Revision ID: 0037_contest_markets
Revises: 0036_sealed_totp_secrets
Create Date: 2026-11-27 17:40:00

A contest was read as Cameroonian everywhere: numbers typed without a country code as +237, times shown in West Africa
Time. It now keeps its country (ISO 3166-1 alpha-2) and its IANA time zone, and a phone wallet's vote needs a number of
that country. Contests made before are given the country most of their payers' numbers are of (a Senegalese contest in
francs CFA keeps taking +221 numbers), else the country of their currency (the one whose contests use it most where
several share it), with that country's main zone; a currency of none of these keeps the old reading (Cameroon, West
Africa Time).
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


# calling code -> (country, zone): the countries whose wallets the service's providers charge.
CALLING = {
    "237": ("CM", "Africa/Douala"), "225": ("CI", "Africa/Abidjan"), "221": ("SN", "Africa/Dakar"),
    "223": ("ML", "Africa/Bamako"), "226": ("BF", "Africa/Ouagadougou"), "227": ("NE", "Africa/Niamey"),
    "228": ("TG", "Africa/Lome"), "229": ("BJ", "Africa/Porto-Novo"), "245": ("GW", "Africa/Bissau"),
    "241": ("GA", "Africa/Libreville"), "242": ("CG", "Africa/Brazzaville"), "235": ("TD", "Africa/Ndjamena"),
    "236": ("CF", "Africa/Bangui"), "240": ("GQ", "Africa/Malabo"), "254": ("KE", "Africa/Nairobi"),
    "255": ("TZ", "Africa/Dar_es_Salaam"), "256": ("UG", "Africa/Kampala"), "250": ("RW", "Africa/Kigali"),
    "234": ("NG", "Africa/Lagos"), "233": ("GH", "Africa/Accra"), "260": ("ZM", "Africa/Lusaka"),
    "265": ("MW", "Africa/Blantyre"), "243": ("CD", "Africa/Kinshasa"), "224": ("GN", "Africa/Conakry"),
    "231": ("LR", "Africa/Monrovia"), "268": ("SZ", "Africa/Mbabane"), "261": ("MG", "Indian/Antananarivo"),
}
# A contest's payers' country: the calling code most of its phone orders' numbers start with.
PAYERS_CODE = sa.text("""
    SELECT DISTINCT ON (contest_id) contest_id, substr(voter_msisdn, 2, 3) AS code
    FROM vote_orders WHERE voter_msisdn IS NOT NULL
    GROUP BY contest_id, substr(voter_msisdn, 2, 3)
    ORDER BY contest_id, count(*) DESC, substr(voter_msisdn, 2, 3)
""")


def upgrade() -> None:
    op.add_column("contests", sa.Column("country", sa.String(2), nullable=False, server_default="CM"))
    op.add_column("contests", sa.Column("time_zone", sa.String(64), nullable=False, server_default="Africa/Douala"))
    contests = sa.table("contests", sa.column("currency", sa.String), sa.column("country", sa.String),
                        sa.column("time_zone", sa.String))
    for currency, (country, zone) in HOMES.items():
        op.execute(contests.update().where(contests.c.currency == currency).values(country=country, time_zone=zone))
    by_id = sa.table("contests", sa.column("id", sa.Integer), sa.column("country", sa.String),
                     sa.column("time_zone", sa.String))
    for contest_id, code in op.get_bind().execute(PAYERS_CODE).all():
        if code in CALLING:
            country, zone = CALLING[code]
            op.execute(by_id.update().where(by_id.c.id == contest_id).values(country=country, time_zone=zone))
    op.create_check_constraint(op.f("ck_contests_country_code"), "contests", "country ~ '^[A-Z]{2}$'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_contests_country_code"), "contests", type_="check")
    op.drop_column("contests", "time_zone")
    op.drop_column("contests", "country")
