"""Migration 0011: orders paid before the vote ledger existed open each contest's chain, so that a
database upgraded mid-contest verifies clean, its ledger counting what its tallies count."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.settings import Settings
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.migrate import alembic_config
from tests.factories import RULES_OFF, make_contest, place

BEFORE_THE_LEDGER = "0009"


async def test_orders_paid_before_the_ledger_open_its_chain(sessions: Sessions, settings: Settings) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF)
    orders = [await place(sessions, contest, code, quantity=q, msisdn=f"+23767000000{i}")
              for i, (code, q) in enumerate((("01", 3), ("02", 4), ("01", 1)))]
    config = alembic_config(settings.database_url or "", MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, BEFORE_THE_LEDGER)
    try:
        async with sessions.begin() as session:  # counted as the code before the ledger counted them
            for order in orders[:2]:
                await session.execute(text("UPDATE vote_orders SET status = 'paid', decided_at = now() WHERE id = :o"),
                                      {"o": order.id})
                await session.execute(text("UPDATE tallies SET votes = votes + :q WHERE candidate_id = :c"),
                                      {"q": order.quantity, "c": order.candidate_id})
    finally:
        await asyncio.to_thread(command.upgrade, config, "heads")
    report = await ledger.verify(sessions, contest.id)
    assert report.clean, report
    assert report.entries == 2 and sum(report.votes.values()) == 7
