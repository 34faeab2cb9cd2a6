"""Open loops, the rehearsal's and the benchmarks', offer the votes of their plan on a machine too busy to keep to
its clock."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.test_utils import TestServer

from assembly.operations.rehearsal.load import Told, Traffic, Voter, offer
from assembly.operations.rehearsal.run import Plan, describe
from bench.open_loop import lateness_said, open_loop
from tests.waiting import HANG_SECONDS, until


async def busy(request: web.Request) -> web.Response:
    return web.json_response({"error": "busy"}, status=429)


async def test_votes_due_while_the_machine_held_the_voters_up_go_out_late_not_never() -> None:
    """3 votes a second for 1.9 s is 6 votes. A process held up past the run's end after the first one still
    sends the other five (late, and the rehearsal says so): its verdict is on the rehearsal it printed."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", busy)
    async with TestServer(app) as server:
        voter = Voter(str(server.make_url("")).rstrip("/"), "demo", None, None, "20123")
        traffic = Traffic()
        offering = asyncio.create_task(offer(voter, 3, 1.9, 1_000_000, traffic))
        await until(lambda: bool(traffic.offered), timeout=HANG_SECONDS)
        time.sleep(2.0)  # the whole process held up, as a machine with every core busy holds it
        sent = await offering
    assert sent == 6 == len(traffic.votes)
    assert traffic.offered == {"web": 2, "ussd": 2, "sms": 2}
    assert {vote.told for vote in traffic.votes} == {Told.REFUSED}
    assert traffic.behind > 0.3
    printed = describe(Plan(voter, peak=2, seconds=1.9, viewers=0), traffic, [], 2.0)
    assert "\n  web: 2 offered: refused 2\n  ussd: 2 offered: refused 2\n  sms: 2 offered: refused 2\n" in printed
    assert f"\n  the voters fell behind their schedule by up to {traffic.behind:.1f} s " in printed


async def test_a_benchmarks_open_loop_held_up_sends_the_votes_it_owes_at_once() -> None:
    """The same for `bench.votes`' open loop: a benchmark's offered rate is the one it names."""
    cast_at: list[float] = []

    async def cast() -> None:
        cast_at.append(time.monotonic())

    looping = asyncio.create_task(open_loop(3, 1.9, cast))
    await until(lambda: bool(cast_at), timeout=HANG_SECONDS)
    time.sleep(2.0)  # held past the run's end: the five votes due meanwhile are owed
    behind = await looping
    assert len(cast_at) == 6
    assert behind > 0.3  # and the benchmark says how late they went
    assert lateness_said(behind).startswith(f"up to {behind:.2f} s (this process was held up")
    assert cast_at[-1] - cast_at[1] < 1.0  # together, once the process could run again
