"""Migration 0019: an order keeps whether its channel sends a receipt. Orders placed before it keep getting
theirs: every channel's but the two that show the outcome on their own screens (USSD, the web)."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.migrate import alembic_config
from tests.channel_names import Channel
from tests.factories import make_contest, place

BEFORE_THE_FLAG = "0018_fraud_rule_names"


async def test_orders_placed_before_keep_their_channels_receipts(sessions: Sessions, settings: Settings) -> None:
    contest = await make_contest(sessions)
    orders = {channel: await place(sessions, contest, "01", channel=channel, msisdn=f"+23767000010{n}")
              for n, channel in enumerate(Channel)}
    config = alembic_config(settings.database_url or "", MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, BEFORE_THE_FLAG)
    await asyncio.to_thread(command.upgrade, config, "heads")
    async with sessions() as session:
        kept = dict((await session.execute(text("SELECT channel, sends_receipt FROM vote_orders WHERE id = ANY(:ids)"),
                                           {"ids": [order.id for order in orders.values()]})).all())
    assert kept == {"ussd": False, "web": False, "sms": True, "telegram": True}


async def test_an_order_placed_by_a_process_of_the_release_before_gets_its_receipt(sessions: Sessions) -> None:
    """During an upgrade the old web processes place orders without the column until they are replaced."""
    contest = await make_contest(sessions)
    async with sessions.begin() as session:
        kept = (await session.execute(text(
            "INSERT INTO vote_orders (id, payment_reference, contest_id, candidate_id, quantity, amount, currency, "
            "channel, provider, voter_msisdn, expires_at) SELECT gen_random_uuid(), gen_random_uuid(), :contest, "
            "id, 1, 100, 'XAF', 'sms', 'mtn', '+237670000101', now() + interval '10 minutes' FROM candidates "
            "WHERE contest_id = :contest AND code = '01' RETURNING sends_receipt"),
            {"contest": contest.id})).scalar_one()
    assert kept is True
