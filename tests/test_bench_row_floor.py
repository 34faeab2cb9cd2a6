"""`python -m bench.row_floor`: the floor's vote writes the rows a web vote of the service writes, table by table, so
that its figure stays the floor under the service's own as the schema and the vote's path change."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import text

from assembly.settings import Settings
from bench.row_floor import pgbench_command, vote_script
from gateway.core.orders import counting
from gateway.core.orders.kept_events import EventToKeep
from gateway.db.engine import Sessions, autocommit_connection
from gateway.db.models import Contest
from tests.factories import make_contest, place

TABLES = ("vote_orders", "fraud_counts", "fraud_members", "provider_events", "ledger_entries", "ledger_heads",
          "tallies", "outbox", "payment_verifications")


async def rows(sessions: Sessions) -> dict[str, int]:
    async with sessions() as session:
        return {table: (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                for table in TABLES}


async def service_vote(sessions: Sessions, contest: Contest, n: int) -> None:
    """A web vote placed from an address of its own and counted from MTN's callback, as the web process counts it."""
    order = await place(sessions, contest, "01", msisdn=f"+2376701{n:05d}", voter_address=f"198.51.100.{n}")
    event = EventToKeep("mtn", None, order.id, "requesttopay.callback", {}, b'{"status": "SUCCESSFUL"}')
    async with autocommit_connection(sessions) as connection:
        outcome, _ = await counting.count_keeping_event(
            lambda statement, parameters: statement.fetchrow(connection, parameters), event, "SUCCESSFUL",
            order.amount, order.currency, f"txn-{n}", verify_later=True)
    assert outcome is counting.ConfirmOutcome.COUNTED


def floor_vote(settings: Settings, contest: Contest, candidates: list[int]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(vote_script(contest.id, candidates))
        script.flush()
        subprocess.run(pgbench_command(settings.database_url or "", Path(script.name), "-t", "1"), check=True,
                       capture_output=True)


async def test_the_floors_vote_inserts_the_rows_a_counted_web_vote_inserts(settings: Settings,
                                                                            sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=3)
    async with sessions() as session:
        candidates = list((await session.execute(
            text("SELECT id FROM candidates WHERE contest_id = :contest ORDER BY id"), {"contest": contest.id}))
            .scalars())
    await service_vote(sessions, contest, 1)  # the contest's ledger head made: both votes below find it
    before = await rows(sessions)
    await service_vote(sessions, contest, 2)
    served = await rows(sessions)
    floor_vote(settings, contest, candidates)
    after = await rows(sessions)
    by_service = {table: served[table] - before[table] for table in TABLES}
    assert by_service["fraud_counts"] == 8  # the placement's seven counters of a new payer and address, and the
    # quick payments' at its count
    assert {table: after[table] - served[table] for table in TABLES} == by_service
