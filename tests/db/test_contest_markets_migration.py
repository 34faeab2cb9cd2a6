"""Migration 0037: a contest keeps its audience's country and time zone. A contest made before gets the country most
of its payers' numbers are of (a Senegalese contest in francs CFA keeps taking +221 numbers, which the country rule
would otherwise refuse), else its currency's; a Kenyan contest is on Nairobi's clock, not West Africa Time."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.migrate import alembic_config
from tests.factories import make_contest, place

BEFORE_MARKETS = "0036_sealed_totp_secrets"


async def test_contests_made_before_take_their_payers_country_else_their_currency_s(
        sessions: Sessions, settings: Settings) -> None:
    dakar = await make_contest(sessions, slug="dakar", currency="XOF", country="SN", providers=["orange"])
    for n in range(3):
        await place(sessions, dakar, "01", provider="orange", msisdn=f"+22177000010{n}")
    nairobi = await make_contest(sessions, slug="nairobi", currency="KES", country="KE", providers=["mpesa"])
    quiet = await make_contest(sessions, slug="quiet-xof", currency="XOF", country="SN")  # no payer yet
    config = alembic_config(settings.database_url or "", MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, BEFORE_MARKETS)
    await asyncio.to_thread(command.upgrade, config, "heads")
    async with sessions() as session:
        kept = {row[0]: (row[1], row[2]) for row in await session.execute(text(
            "SELECT id, country, time_zone FROM contests WHERE id = ANY(:ids)"),
            {"ids": [dakar.id, nairobi.id, quiet.id]})}
    assert kept == {dakar.id: ("SN", "Africa/Dakar"), nairobi.id: ("KE", "Africa/Nairobi"),
                    quiet.id: ("CI", "Africa/Abidjan")}
