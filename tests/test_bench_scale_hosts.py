"""`python -m bench.scale_hosts`: PostgreSQL's activity read per vote, and the figures a run is told by."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
from sqlalchemy.engine import make_url

from assembly.machine.embedded import ServiceUrls
from bench.postgres_activity import Activity, Sample
from bench.scale_hosts import SUPERVISOR, Run, bends, layout, served_text


@contextlib.asynccontextmanager
async def database_of_its_own(url: str) -> AsyncIterator[str]:
    """A database made for the test and dropped after: its commits are the test's and the sampler's alone (what an
    earlier test left running on the suite's database would count in them)."""
    name = f"commits_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_writing_transactions_are_told_from_read_only_commits_per_vote(services: ServiceUrls) -> None:
    async with database_of_its_own(services.database_url) as url:
        await count_a_hundred_votes(url)


async def count_a_hundred_votes(url: str) -> None:
    activity, stop = Activity(url), asyncio.Event()
    sampling = asyncio.create_task(activity.run(stop))
    try:
        await until(lambda: bool(activity.samples))
        connection = await asyncpg.connect(url)
        await connection.execute("CREATE TEMP TABLE scratch (n int)")
        for n in range(99):  # a hundred transactions that write
            await connection.execute("INSERT INTO scratch VALUES ($1)", n)
        for _ in range(300):  # three hundred that only read
            await connection.fetchval("SELECT 1")
        await connection.close()  # a backend's counters reach pg_stat_database as it ends
        first = activity.samples[0]
        await until(lambda: activity.samples[-1].commits - first.commits >= 400)
    finally:
        stop.set()
        await sampling
    last = activity.samples[-1]
    found = activity.per_vote(first.at, last.at, votes_a_second=100 / (last.at - first.at))  # "a hundred votes"
    assert found is not None
    commits, writing, wal = found
    # Transaction ids are the server's: other tests on a shared server assign some meanwhile (a few dozen a second
    # on a busy CI machine), never take any away. Counted as writes, the reads would make it 4 or more.
    assert 0.95 <= writing <= 2.5  # the sampler itself writes nothing
    # Commits are this database's alone; the reads are commits too, the sampler's own taken out.
    assert 3.95 <= commits <= 4.5
    assert wal > 0


def test_backends_are_told_by_host_with_what_the_active_ones_waited_on() -> None:
    names = {"10.77.1.2": "web-a", "10.77.2.2": "web-b"}
    activity = Activity("unused", lambda address: names.get(address or "", "local"))
    counting = "WITH judged AS MATERIALIZED (SELECT 1)"
    activity.samples = [
        Sample(1.0, 0, 0, 0, [("10.77.1.2", "active", "Lock", "transactionid", counting, "idle in transaction: BEGIN;"),
                              ("10.77.1.2", "idle in transaction", "Client", "ClientRead", "BEGIN;", None),
                              ("10.77.2.2", "active", None, None, counting, None)]),
        Sample(1.5, 0, 0, 0, [("10.77.2.2", "active", "IO", "WALSync", counting, None)]),
    ]
    told = activity.backends(0, 2)
    assert told.startswith("3 at most (web-a 2, web-b 1)")
    assert "active 1.5 on average, idle in a transaction 0.5" in told
    assert "Lock:transactionid 33%" in told and "on CPU 33%" in told and "IO:WALSync 33%" in told
    assert activity.holding(0, 2) == (f"waiting on a lock in: {counting!r} 100% (n=1), held by backends "
                                      "'idle in transaction: BEGIN;' 100% (n=1); "
                                      "idle in a transaction after: 'BEGIN;' 100% (n=1)")


def test_a_host_the_balancer_took_out_is_named_with_its_share_of_requests() -> None:
    before = {"web-a": [100, 0, 0], "web-b": [100, 1, 2]}
    after = {"web-a": [400, 2, 5], "web-b": [200, 1, 2]}
    assert served_text(before, after) == "web-a 75% (taken out 2 times, 5 s out), web-b 25%"


def test_each_run_is_set_against_the_fewest_hosts_run_of_its_own_kind() -> None:
    def run(hosts: int, mode: str, rate: float, postgres: float) -> Run:
        return Run(hosts, mode, {"_rate": str(rate)}, 100, {"PostgreSQL": postgres, "web": 4.0, SUPERVISOR: 0.1,
                                                            "load generator": 9.0})

    told = bends([run(1, "open", 150, 2.0), run(1, "closed", 200, 2.5), run(2, "open", 150, 3.0),
                  run(2, "closed", 180, 2.5)]).splitlines()
    assert told[3].startswith("  - 2 hosts, open: 150.0 confirmed/s (+0%); PostgreSQL 3.00 ms (+50%), web 4.00 ms")
    assert told[4].startswith("  - 2 hosts, closed: 180.0 confirmed/s (-10%); PostgreSQL 2.50 ms (+0%)")
    assert "the deployment 7.10 ms (+16%)" in told[3]  # the load generator is not the deployment's
    assert list(layout(2, 0.0).hosts) == ["web-a", "web-b", "db", "redis", "balancer", "providers", "clients"]


async def until(done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)
