"""`python -m bench.row_floor`: the floor's vote writes the rows a web vote of the service writes, table by table,
inserted, updated and updated in place (HOT), so that its figure stays the floor under the service's own as the
schema and the vote's path change."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.settings import Settings
from bench.row_floor import pgbench_command, vote_script
from gateway.core.money_in.starting import record_start
from gateway.core.orders import counting
from gateway.core.orders.kept_events import EventToKeep
from gateway.core.providers import StartResult
from gateway.db.engine import Sessions, autocommit_connection, create_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import Contest
from gateway.jobs.outbox import relay_local
from tests.factories import make_contest, place
from tests.servers import throwaway_database

Written = dict[str, tuple[int, int, int]]  # by table: rows inserted, updated, of which in place (HOT)
WRITTEN = text("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables")


# Client backends only: an autovacuum worker is listed under the database it works on, for as long as a loaded
# machine makes that take, and writes no row these counts hold. (A run waited 30 s for a backend here and failed,
# without saying which: the message now names them.)
OTHERS = text("SELECT string_agg(backend_type || ' ' || coalesce(query, ''), '; ') FROM pg_stat_activity"
              " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")


async def written(database_url: str) -> Written:
    """What every table was written so far, once the server's backends that wrote have reported it: each reports as
    it ends, before it leaves pg_stat_activity, and each writer here ends before this is read."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            for _ in range(600):
                if not (others := (await connection.execute(OTHERS)).scalar_one()):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the writers' backends never ended: {others}")
            await connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            return {name: (ins, upd, hot) for name, ins, upd, hot in await connection.execute(WRITTEN)}
    finally:
        await engine.dispose()


def between(before: Written, after: Written) -> Written:
    moved = {name: tuple(a - b for a, b in zip(counts, before.get(name, (0, 0, 0)), strict=True))
             for name, counts in after.items()}
    return {name: (ins, upd, hot) for name, (ins, upd, hot) in moved.items() if ins or upd or hot}


async def on_its_own_connections(database_url: str, work: Callable[[Sessions], Awaitable[Any]]) -> Any:
    """`work` on an engine of its own, ended after: its backends end, and so report what they wrote."""
    engine = create_engine(database_url, pool_size=1)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


async def service_vote(sessions: Sessions, contest: Contest, n: int) -> None:
    """A web vote as the service makes it: placed from an address of its own, its start recorded, counted from
    MTN's callback, its board's outbox row relayed."""
    order = await place(sessions, contest, "01", msisdn=f"+2376701{n:05d}", voter_address=f"198.51.100.{n}")
    # A window inside the order's own: its expiry stays as it is (as a start in time leaves it).
    assert await record_start(sessions, order, StartResult(provider_data={"reference_id": "r"}), timedelta(0))
    event = EventToKeep("mtn", None, order.id, "requesttopay.callback", {}, b'{"status": "SUCCESSFUL"}')
    async with autocommit_connection(sessions) as connection:
        outcome, _ = await counting.count_keeping_event(
            lambda statement, parameters: statement.fetchrow(connection, parameters), event, "SUCCESSFUL",
            order.amount, order.currency, f"txn-{n}", verify_later=True)
    assert outcome is counting.ConfirmOutcome.COUNTED

    async def board(payloads: list[dict[str, Any]]) -> None:
        assert [payload["order_id"] for payload in payloads] == [str(order.id)]

    assert await relay_local(sessions, {"vote.confirmed": board}) == 1


def floor_votes(database_url: str, contest: Contest, candidates: list[int], votes: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(vote_script(contest.id, candidates, batch=votes))
        script.flush()
        ran = subprocess.run(pgbench_command(database_url, Path(script.name), "-t", "1"), capture_output=True,
                             text=True)
        assert ran.returncode == 0, ran.stderr


async def compared(database_url: str, votes: int) -> tuple[Written, Written]:
    """What `votes` votes of the service wrote, one by one, and what the floor's wrote, `votes` to a batch."""
    async def contest_and_first_vote(sessions: Sessions) -> tuple[Contest, list[int]]:
        contest = await make_contest(sessions, candidates=3)
        await service_vote(sessions, contest, 1)  # the contest's ledger head made: both votes below find it
        async with sessions() as session:
            return contest, list((await session.execute(
                text("SELECT id FROM candidates WHERE contest_id = :contest ORDER BY id"), {"contest": contest.id}))
                .scalars())

    contest, candidates = await on_its_own_connections(database_url, contest_and_first_vote)
    before = await written(database_url)
    async def service_votes(sessions: Sessions) -> None:
        for n in range(2, 2 + votes):
            await service_vote(sessions, contest, n)

    await on_its_own_connections(database_url, service_votes)
    served = await written(database_url)
    await asyncio.to_thread(floor_votes, database_url, contest, candidates, votes)
    return between(before, served), between(served, await written(database_url))


@pytest.mark.parametrize("votes", [1, 5])  # a lone vote; a batch, as the floor's figures share commits
def test_the_floors_votes_write_the_rows_web_votes_write_as_the_service_writes_them(settings: Settings,
                                                                                    votes: int) -> None:
    with throwaway_database(settings.database_url or "") as database_url:  # no other test's writes in its counts
        upgrade(database_url, MIGRATIONS)
        by_service, by_floor = asyncio.run(compared(database_url, votes))
    assert by_service["fraud_counts"][0] == 8 * votes  # the placement's seven counters of a new payer and address,
    # and the quick payments' at its count
    assert by_service["vote_orders"] == (votes, 2 * votes, votes)  # inserted, its start recorded in place, paid
    assert by_floor == by_service
