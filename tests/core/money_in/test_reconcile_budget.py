"""A reconciler pass ends within its job's time-out, however slow its provider: past it RQ kills the job, which then
neither notes its pass (/readyz calls the reconciler silent) nor relays what it counted, and is logged FAILED. Its
pieces' deadlines come from the job's budget; a real pass, its provider slow at the wire, ends before its budget and
a provider that never answers is cut at it. Through the reconciler's job as the worker runs it, MTN faked at the
wire."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import text

from assembly.settings import Settings
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext
from assembly.worker.periodic_enqueuer import PERIODIC_JOB_TIMEOUT
from assembly.worker.worker_jobs import RECONCILE_TIMES, reconcile_pass
from gateway.core.money_in.passes import VERIFY_PASS_SECONDS, ReconcileTimes
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus
from gateway.jobs.last_passes import pass_ages
from gateway.kit.keys import PROVIDERS
from tests.factories import make_contest, place
from tests.fakes.mtn import FakeMtn

ORDERS = 40  # paid at MTN, their callbacks lost: more than a slow MTN answers in the test's short pass
ANSWER_EVERY = 0.5  # seconds: the slow MTN answers the status calls waiting, twice a second
# A pass scaled down from the job's 300 s: its sweep starts checks for 1 s, one check takes at most 3 s (six times
# the slow MTN's), its budget is 10 s.
SHORT = ReconcileTimes(job_timeout=12.0, margin=2.0, sweep=1.0, order_check=3.0, verify=1.0, verification=3.0)
CUT = ReconcileTimes(job_timeout=7.0, margin=4.0, sweep=1.0, order_check=1.0, verify=1.0, verification=1.0)  # 3 s


def test_the_pass_pieces_deadlines_keep_it_within_its_job_time_out() -> None:
    for times in (RECONCILE_TIMES, SHORT):
        sweep_ends = times.sweep_stop_after() + times.order_check  # its last check started in time, at its slowest
        assert sweep_ends <= times.budget < times.job_timeout
        for elapsed in (0.0, 0.5, times.sweep_stop_after(), sweep_ends - 1, sweep_ends):
            stop_after = times.verify_stop_after(elapsed)  # verification after a sweep that took `elapsed`
            assert stop_after is None or elapsed + stop_after + times.verification <= times.budget
    assert RECONCILE_TIMES.job_timeout == PERIODIC_JOB_TIMEOUT
    assert RECONCILE_TIMES.verify_stop_after(5.0) == VERIFY_PASS_SECONDS  # after a short sweep, all of its 10 s
    assert RECONCILE_TIMES.verify_stop_after(RECONCILE_TIMES.budget - 10) is None  # after a long one, none


async def test_a_pass_with_a_slow_provider_ends_before_its_budget_and_leaves_the_rest_due(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings, fake_mtn: FakeMtn
) -> None:
    lost = await paid_with_callbacks_lost(client, sessions, fake_mtn)
    async with slow(fake_mtn):
        began = time.monotonic()
        async with asyncio.timeout(SHORT.job_timeout):  # as RQ would end the job
            summary = await reconcile_pass(JobContext(settings, sessions, redis, client.app[PROVIDERS]), times=SHORT)
        took = time.monotonic() - began
    assert took < SHORT.budget, summary
    assert summary.startswith("checked"), summary  # ended by its own deadlines, nothing cut
    statuses = [(await tables.get_order(sessions, order_id)).status for order_id in lost]
    assert OrderStatus.PAID in statuses and OrderStatus.PENDING in statuses  # the rest is the next pass's
    assert (await pass_ages(redis, ("reconcile",)))["reconcile"] is not None


async def test_a_pass_whose_provider_never_answers_is_cut_at_its_budget_and_noted(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings, fake_mtn: FakeMtn
) -> None:
    lost = await paid_with_callbacks_lost(client, sessions, fake_mtn)
    ctx = JobContext(settings, sessions, redis, client.app[PROVIDERS])
    fake_mtn.statuses_held = asyncio.Event()  # MTN takes the status calls and answers none
    try:
        async with asyncio.timeout(CUT.job_timeout):  # as RQ would end the job
            summary = await reconcile_pass(ctx, times=CUT)
    finally:
        fake_mtn.statuses_held.set()
    assert summary.startswith("cut short"), summary
    assert (await pass_ages(redis, ("reconcile",)))["reconcile"] is not None  # /readyz sees the pass
    fake_mtn.statuses_held = None
    await reconcile_pass(ctx)  # the next pass (its lease let go) checks what the cut one left
    assert {(await tables.get_order(sessions, order_id)).status for order_id in lost} == {OrderStatus.PAID}


async def paid_with_callbacks_lost(client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> list[uuid.UUID]:
    """`ORDERS` orders from as many payers, paid at MTN, none called back, due for the reconciler."""
    contest = await make_contest(sessions, slug="gala")
    ids = [(await place(sessions, contest, msisdn=f"+23767{uuid.uuid4().int % 10**7:07}")).id for _ in range(ORDERS)]
    for order_id in ids:
        client.app[STARTS].request(order_id)
    await client.app[STARTS].wait_idle()
    for order_id in ids:
        fake_mtn.decide((await tables.get_order(sessions, order_id)).payment_reference, "SUCCESSFUL")
    async with sessions.begin() as session:  # the reconciler looks at an order 30 s after it was placed
        await session.execute(text("UPDATE vote_orders SET created_at = now() - interval '31 seconds'"))
    return ids


@contextlib.asynccontextmanager
async def slow(fake_mtn: FakeMtn) -> AsyncIterator[None]:
    """MTN answering the status calls waiting every `ANSWER_EVERY` seconds."""
    held = fake_mtn.statuses_held = asyncio.Event()

    async def answer() -> None:
        while True:
            await asyncio.sleep(ANSWER_EVERY)
            held.set()  # every call waiting is answered...
            held.clear()  # ...and the next ones wait again

    answering = asyncio.create_task(answer())
    try:
        yield
    finally:
        answering.cancel()
        held.set()
        fake_mtn.statuses_held = None
