"""Migration 0018: the per-voter fraud rules lost their channel's name; a contest's stored thresholds and the
hold reasons orders kept take the new names, and a downgrade gives the former ones back."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.settings import Settings
from gateway.core.fraud.rules import FraudRules
from gateway.db.engine import Sessions
from gateway.db.migrate import alembic_config
from tests.factories import make_contest, place

BEFORE_THE_NAMES = "0017_telegram_update_failure"
FORMER_RULES = {"telegram_orders_per_10_minutes": 2, "numbers_per_telegram_user": 4, "quick_payments": 7}
FORMER_REASON = "payer_velocity: 31 over the limit of 30; telegram_velocity: 3 over the limit of 2"


async def stored(sessions: Sessions, contest_id: int, order_id: object) -> tuple[dict[str, int], str]:
    async with sessions() as session:
        rules = (await session.execute(text("SELECT fraud_rules FROM contests WHERE id = :c"),
                                       {"c": contest_id})).scalar_one()
        reason = (await session.execute(text("SELECT hold_reason FROM vote_orders WHERE id = :o"),
                                        {"o": order_id})).scalar_one()
    return rules, reason


async def test_stored_thresholds_and_hold_reasons_take_the_rules_new_names(sessions: Sessions,
                                                                           settings: Settings) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "01")
    config = alembic_config(settings.database_url or "", MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, BEFORE_THE_NAMES)
    try:
        async with sessions.begin() as session:  # as the code before the new names stored them
            await session.execute(text("UPDATE contests SET fraud_rules = CAST(:r AS jsonb) WHERE id = :c"),
                                  {"r": '{"telegram_orders_per_10_minutes": 2, "numbers_per_telegram_user": 4, '
                                        '"quick_payments": 7}', "c": contest.id})
            await session.execute(text("UPDATE vote_orders SET hold_reason = :r WHERE id = :o"),
                                  {"r": FORMER_REASON, "o": order.id})
    finally:
        await asyncio.to_thread(command.upgrade, config, "heads")
    rules, reason = await stored(sessions, contest.id, order.id)
    assert rules == {"voter_orders_per_10_minutes": 2, "numbers_per_voter": 4, "quick_payments": 7}
    assert FraudRules.of(rules) == FraudRules(voter_orders_per_10_minutes=2, numbers_per_voter=4, quick_payments=7)
    assert reason == "payer_velocity: 31 over the limit of 30; voter_velocity: 3 over the limit of 2"
    await asyncio.to_thread(command.downgrade, config, BEFORE_THE_NAMES)
    try:
        assert await stored(sessions, contest.id, order.id) == (FORMER_RULES, FORMER_REASON)
    finally:
        await asyncio.to_thread(command.upgrade, config, "heads")
