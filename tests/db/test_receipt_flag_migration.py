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
