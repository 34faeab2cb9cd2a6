"""The verification order against MTN's sandbox enforcing MTN's cap (429 past 10 status GETs a second): two web
processes' verification loops, each claiming one at a time, verify a large order and a forged new payer's first, take
the forgery's votes back, and verify every order once, none refused over the cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from gateway.core.money_in.verification.loop import VerificationLoop
from gateway.core.money_in.verification.priority import OriginCounts
from gateway.core.money_in.verification.ranking import rank_all_due
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, PaymentVerification
from gateway.kit.status_pacing import StatusPacer
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.core.money_in.mtn_sandbox import Mtn, paid
from tests.factories import assert_tally_invariant, make_contest, tallies

MTN_CAP = 10.0
DISAGREEING_PAYER = "+237670000457"  # the sandbox's number whose status GET says FAILED after a SUCCESSFUL callback


@asynccontextmanager
async def capped_sandbox(settings: Settings, sessions: Sessions) -> AsyncIterator[tuple[Mtn, SandboxControl]]:
    """MTN's sandbox, its cap off until the test turns it on (placing a vote here polls its status every 10 ms)."""
    control = SandboxControl(success_delay=0.05, drop_callbacks=True)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        url = str(sandbox.make_url("")).rstrip("/")
        async with httpx.AsyncClient(timeout=5) as http:
            capped = settings.model_copy(update={"sandbox_url": url, "mtn_momo_status_calls_per_second": MTN_CAP})
            registry = build_providers(capped, http)
            yield Mtn(registry, await make_contest(sessions), url), control
            await registry.aclose()


async def until_all_verified(sessions: Sessions, count: int) -> list[PaymentVerification]:
    for _ in range(600):
        async with sessions() as session:
            done = list(await session.scalars(select(PaymentVerification)
                                              .where(PaymentVerification.verified_at.is_not(None))
                                              .order_by(PaymentVerification.verified_at)))
        if len(done) == count:
            return done
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(done)} of {count} verified")


async def test_two_processes_verify_the_large_order_and_the_forgery_first_each_once_within_mtns_cap(
        settings: Settings, sessions: Sessions, redis: Redis) -> None:
    async with capped_sandbox(settings, sessions) as (mtn, control):
        crowd_numbers = [f"+2376700005{n:02d}" for n in range(16)]
        for number in crowd_numbers:  # every payer of the crowd paid before the show
            await paid(sessions, mtn, quantity=1, msisdn=number)
        crowd = [await paid(sessions, mtn, quantity=1, msisdn=number, verify_later=True)
                 for number in crowd_numbers[:8]]
        large = await paid(sessions, mtn, quantity=60, msisdn=crowd_numbers[8], verify_later=True)
        forged = await paid(sessions, mtn, quantity=5, msisdn=DISAGREEING_PAYER, verify_later=True)
        crowd += [await paid(sessions, mtn, quantity=1, msisdn=number, verify_later=True)
                  for number in crowd_numbers[9:]]
        before = (await tallies(sessions, mtn.contest.id))["01"]
        async with sessions.begin() as session:  # all due now, ranked as a web process's loop ranks them
            await session.execute(update(PaymentVerification).values(due_at=func.now()))
        await rank_all_due(sessions, OriginCounts(), datetime.now(UTC))
        control.status_calls_per_second = MTN_CAP  # from here, the 11th status GET in a second answers 429
        loops = [VerificationLoop(sessions, mtn.registry, StatusPacer(redis).wait_turn, lambda: None, concurrent=1)
                 for _ in range(2)]
        for loop in loops:
            loop.start()
        try:
            done = await until_all_verified(sessions, 2 + len(crowd))
        finally:
            for loop in loops:
                await loop.stop()
    # Claimed first, they are verified among the first: two processes finish in the order their paced turns and
    # writes allow (a forgery's take-back is longer; a late waker takes a new turn), not strictly as claimed.
    # Oldest first would verify them ninth and tenth.
    first = [entry.order_id for entry in done[:4]]
    assert large.id in first and forged.id in first
    assert {entry.order_id for entry in done} - {large.id, forged.id} == {order.id for order in crowd}
    assert all(entry.attempts == 1 for entry in done)  # each claimed once; none refused over the cap and asked again
    outcomes = {entry.order_id: entry.outcome or "" for entry in done}
    assert outcomes[forged.id].startswith("disagreed") and outcomes[large.id] == "agreed"
    assert (await tables.get_order(sessions, forged.id)).status is OrderStatus.FLAGGED
    assert (await tallies(sessions, mtn.contest.id))["01"] == before - 5
    await assert_tally_invariant(sessions, mtn.contest.id)
