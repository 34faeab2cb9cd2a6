"""USSD's branch takes its data out of the core's (ussd_0002, ussd_0003): a database at the release before, its
contests' service codes in `contests` and AT's session notifications in `ussd_session_events`, upgrades with every
code in `ussd_contests` (beside the SMS switch a contest already had there) and every notification kept; a downgrade
puts the codes back into `contests`."""

from __future__ import annotations

import asyncio
import json

from alembic import command
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.migrate import alembic_config
from tests.factories import channel_settings, make_contest

RELEASE_BEFORE = "ussd_0001_receipt_texts"  # the branch's head before its data moved
EVENTS = "SELECT id, session_id, msisdn, status, payload, received_at FROM ussd_session_events ORDER BY id"


async def rows(sessions: Sessions, sql: str) -> list[tuple[object, ...]]:
    async with sessions() as session:
        return [tuple(row) for row in (await session.execute(text(sql))).all()]


async def test_upgrading_keeps_every_contests_service_codes_and_every_session_event(sessions: Sessions,
                                                                                    settings: Settings) -> None:
    two_codes = await make_contest(sessions, ussd_service_codes=["*384*5#", "*384*6#"])
    quiet = await make_contest(sessions, ussd_service_codes=[], ussd_no_receipt_sms=True)
    web_only = await make_contest(sessions, ussd_service_codes=[])
    config = alembic_config(settings.database_url or "", MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, f"ussd@{RELEASE_BEFORE}")  # the codes back in `contests`
    try:
        assert await rows(sessions, "SELECT id, ussd_service_codes FROM contests WHERE id IN "
                                    f"({two_codes.id}, {quiet.id}, {web_only.id}) ORDER BY id") == [
            (two_codes.id, ["*384*5#", "*384*6#"]), (quiet.id, []), (web_only.id, [])]
        async with sessions.begin() as session:  # as a deployed database of that release holds them
            await session.execute(text("UPDATE contests SET ussd_service_codes = '{*384*7#}' WHERE id = :c"),
                                  {"c": quiet.id})
            await session.execute(text("DELETE FROM ussd_contests WHERE contest_id = :c"), {"c": web_only.id})
            await session.execute(text("UPDATE contests SET ussd_service_codes = '{*384*8#}' WHERE id = :c"),
                                  {"c": web_only.id})
            for index, status in enumerate(("Success", "Incomplete")):
                await session.execute(text(
                    "INSERT INTO ussd_session_events (session_id, msisdn, status, payload) "
                    "VALUES (:s, '+237670000001', :status, CAST(:payload AS jsonb))"),
                    {"s": f"ATUid_{index}", "status": status, "payload": json.dumps({"sessionId": f"ATUid_{index}"})})
        events = await rows(sessions, EVENTS)
    finally:
        await asyncio.to_thread(command.upgrade, config, "heads")
    kept = {contest.id: await channel_settings(sessions, contest.id) for contest in (two_codes, quiet, web_only)}
    assert {cid: (own["ussd_service_codes"], own["ussd_no_receipt_sms"]) for cid, own in kept.items()} == {
        two_codes.id: (["*384*5#", "*384*6#"], False), quiet.id: (["*384*7#"], True), web_only.id: (["*384*8#"], False)}
    assert await rows(sessions, "SELECT column_name FROM information_schema.columns WHERE table_name = 'contests' "
                                "AND column_name = 'ussd_service_codes'") == []
    assert len(events) == 2 and await rows(sessions, EVENTS) == events
