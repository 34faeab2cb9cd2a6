"""Migration 0045: the fraud rules' counters went from one row per counter to one row per subject. The counters an
open contest kept before the upgrade go on counting after it, and a downgrade gives them back one row per counter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.settings import Settings
from gateway.core.fraud import fraud_counters
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.migrate import alembic_config
from tests.factories import make_contest, place

BEFORE_SUBJECT_ROWS = "0044_round_bundles"
PAYER, ADDRESS, BROWSER = "+237670000001", "203.0.113.7", "b-1"


async def old_rows(sessions: Sessions, contest_id: int) -> dict[tuple[str, str], int]:
    async with sessions() as session:
        rows = await session.execute(text("SELECT name, subject, current FROM fraud_counts WHERE contest_id = :c"),
                                     {"c": contest_id})
    return {(name, subject): current for name, subject, current in rows}


async def test_an_open_contest_s_counters_go_on_from_where_they_were_across_the_upgrade(
        sessions: Sessions, settings: Settings) -> None:
    contest = await make_contest(sessions, fraud_rules={"hold_score": 0})
    first = await place(sessions, contest, "01", msisdn=PAYER, voter_address=ADDRESS, voter_ref=BROWSER)
    await place(sessions, contest, "02", msisdn=PAYER, voter_address=ADDRESS, voter_ref=BROWSER)
    await counting.confirm_payment(sessions, first.id, "SUCCESSFUL", first.amount, first.currency, "M1",
                                   provider="mtn")
    async with sessions.begin() as session:  # a person refused an earlier order of this payer
        await fraud_counters.note_refused(session, contest.id, PAYER, None, datetime.now(UTC))
    config = alembic_config(settings.database_url or "", MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, BEFORE_SUBJECT_ROWS)
    try:
        before = await old_rows(sessions, contest.id)
    finally:
        await asyncio.to_thread(command.upgrade, config, "heads")
    assert before[("payer_orders_10_minutes", PAYER)] == 2
    assert before[("payer_paid_quick", PAYER)] == 1
    assert before[("payer_refused", PAYER)] == 1
    assert before[("address_candidates_hour", ADDRESS)] == 2
    assert before[("voter_orders_10_minutes", f"web:{BROWSER}")] == 2
    assert len(before) == 11  # the payer's six, the address's three, the browser's two
    third = await place(sessions, contest, "01", msisdn=PAYER, voter_address=ADDRESS, voter_ref=BROWSER)
    assert third.fraud_figures is not None
    assert third.fraud_figures["payer_orders_10_minutes"] == 3
    assert third.fraud_figures["address_orders_10_minutes"] == 3
    assert third.fraud_figures["address_candidates_hour"] == 2  # candidates 01 and 02
    assert third.fraud_figures["address_numbers_day"] == 1
    assert third.fraud_figures["voter_orders_10_minutes"] == 3
    assert third.fraud_figures["payer_refused"] == 1
