"""Many orders at once, for the export memory test and the bench: one INSERT … SELECT over generate_series."""

from __future__ import annotations

from sqlalchemy import text

from gateway.db.engine import Sessions

# Ids in order (random ones cost the unique indexes most of the insert's time).
UUID_OF = """
CREATE OR REPLACE FUNCTION pg_temp.uuid_of(kind int, i bigint) RETURNS uuid LANGUAGE sql IMMUTABLE AS
$$ SELECT (lpad(to_hex(kind), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid $$
"""
# Paid, failed and pending orders across the contest's candidates, channels and providers, one hour apart
# in groups, with Cameroonian MTN numbers; amounts are quantity × 100 XAF.
INSERT_ORDERS = """
INSERT INTO vote_orders (id, payment_reference, contest_id, candidate_id, quantity, amount, currency, channel,
                         provider, voter_msisdn, status, provider_txn_id, created_at, updated_at, expires_at)
SELECT pg_temp.uuid_of(1, i), pg_temp.uuid_of(2, i), :contest, c.ids[1 + i % array_length(c.ids, 1)], 1 + i % 5,
       (1 + i % 5) * 100, 'XAF', (ARRAY['ussd','sms','web','telegram'])[1 + i % 4],
       (ARRAY['mtn','orange'])[1 + i % 2], '+23767' || lpad(i::text, 7, '0'),
       (ARRAY['paid','paid','paid','failed','pending'])[1 + i % 5]::order_status, 'txn-' || i,
       now() - make_interval(secs => i % 86400), now(), now() + interval '10 minutes'
FROM generate_series(1, :rows) AS i,
     (SELECT array_agg(id ORDER BY id) AS ids FROM candidates WHERE contest_id = :contest) AS c
"""


async def insert_orders(sessions: Sessions, contest_id: int, rows: int) -> None:
    async with sessions.begin() as session:
        await session.execute(text(UUID_OF))
        await session.execute(text(INSERT_ORDERS), {"contest": contest_id, "rows": rows})
