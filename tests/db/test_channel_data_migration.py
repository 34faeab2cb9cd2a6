"""The channels' branches move their settings of a contest out of `contests` (sms_0002, telegram_0002): a
database at the core's 0017, holding contests and orders, upgrades with every value in the channels' own
tables and its orders untouched; a downgrade puts the values back into `contests`."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.migrate import alembic_config
from tests.factories import RULES_OFF, channel_settings, make_contest, place

ORDERS = "SELECT id, contest_id, candidate_id, quantity, amount, channel, status::text FROM vote_orders ORDER BY id"


async def rows(sessions: Sessions, sql: str) -> list[tuple[object, ...]]:
    async with sessions() as session:
        return [tuple(row) for row in (await session.execute(text(sql))).all()]


async def test_upgrading_from_0017_moves_the_channels_settings_and_keeps_the_orders(sessions: Sessions,
                                                                                   settings: Settings) -> None:
    sms = await make_contest(sessions, fraud_rules=RULES_OFF, sms_short_code="20555", sms_keyword="GALA",
                             telegram_mobile_money=True)
    quiet = await make_contest(sessions, fraud_rules=RULES_OFF, sms_short_code=None, sms_keyword=None)
    for i, contest in enumerate((sms, quiet, sms)):
        await place(sessions, contest, "01", quantity=i + 1, msisdn=f"+23767000001{i}")
    orders = await rows(sessions, ORDERS)
    config = alembic_config(settings.database_url or "", MIGRATIONS)
    for branch in ("sms", "telegram"):  # back to the schema of 0017: the settings in `contests`
        await asyncio.to_thread(command.downgrade, config, f"{branch}@base")
    try:
        assert await rows(sessions, "SELECT id, sms_short_code, sms_keyword, telegram_mobile_money FROM contests "
                                    "ORDER BY id") == [(sms.id, "20555", "GALA", True), (quiet.id, None, None, False)]
        assert await rows(sessions, "SELECT to_regclass('sms_contests'), to_regclass('telegram_contests')") == [
            (None, None)]
        async with sessions.begin() as session:  # as a deployed database at 0017 holds them
            await session.execute(text("UPDATE contests SET sms_short_code = '20666', sms_keyword = 'STAR', "
                                       "telegram_mobile_money = false WHERE id = :c"), {"c": quiet.id})
    finally:
        await asyncio.to_thread(command.upgrade, config, "heads")
    moved = ("sms_short_code", "sms_keyword", "telegram_mobile_money")  # other channels' settings began in tables
    assert {key: value for key, value in (await channel_settings(sessions, sms.id)).items() if key in moved} == {
        "sms_short_code": "20555", "sms_keyword": "GALA", "telegram_mobile_money": True}
    assert {key: value for key, value in (await channel_settings(sessions, quiet.id)).items() if key in moved} == {
        "sms_short_code": "20666", "sms_keyword": "STAR", "telegram_mobile_money": False}
    columns = await rows(sessions, "SELECT column_name FROM information_schema.columns WHERE table_name = 'contests' "
                                   "AND column_name IN ('sms_short_code', 'sms_keyword', 'telegram_mobile_money')")
    assert columns == []
    assert await rows(sessions, ORDERS) == orders
