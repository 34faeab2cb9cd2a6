"""A web process's verification loop at a stop (each deploy, each restart): its claim and its ranking under way
finish, and their connections go back to the pool, rather than being cut inside a statement."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import event, insert

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from gateway.core.money_in.verification.loop import VerificationLoop
from gateway.core.orders import counting
from gateway.core.providers import PaymentProvider
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.models import PaymentVerification
from tests.factories import make_contest, place
from tests.waiting import until

POOL = 4
STOPS = 20


async def no_pace(provider: PaymentProvider) -> None:
    return None


async def test_a_stopped_loop_gives_its_connections_back(clean: None, settings: Settings) -> None:
    """Twenty loops started and stopped on one pool, each in the middle of its work (claiming and ranking without a
    pause): the pool opens no more connections than it keeps. Cancelled wherever they were, each stop lost one or
    two (SQLAlchemy discards a connection cut inside a statement), and the next start opened new ones."""
    engine = create_engine(settings.database_url or "", pool_size=POOL, max_overflow=0)
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(None))
    sessions = session_factory(engine)
    try:
        async with httpx.AsyncClient() as http:
            registry = build_providers(settings, http)
            for _ in range(STOPS):
                loop = VerificationLoop(sessions, registry, no_pace, lambda: None, idle_seconds=0, rank_every=0)
                loop.start()
                await asyncio.sleep(0.05)
                async with asyncio.timeout(10):
                    await loop.stop()
            await registry.aclose()
    finally:
        await engine.dispose()
    assert len(opened) <= POOL


def verifying() -> int:
    """The loop's verifications still under way in this process."""
    return sum(1 for task in asyncio.all_tasks() if task.get_name().startswith("verify-") and not task.done())


async def test_no_verification_goes_on_after_the_stop(sessions: Sessions, settings: Settings) -> None:
    """A stop that comes while the loop claims: what it claims then is ended with the rest, not left verifying on a
    process whose pools are closing (its claim's lease makes it due again)."""
    contest = await make_contest(sessions)
    ids = []
    for number in range(40):
        order = await place(sessions, contest, msisdn=f"+2376700{number:05d}")
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 100, "XAF", "t", provider=order.provider)
        ids.append(order.id)
    async with sessions.begin() as session:
        await session.execute(insert(PaymentVerification).values([{"order_id": order_id} for order_id in ids]))
    never = asyncio.Event()

    async def never_our_turn(provider: PaymentProvider) -> None:
        await never.wait()

    async with httpx.AsyncClient() as http:
        registry = build_providers(settings, http)
        loop = VerificationLoop(sessions, registry, never_our_turn, lambda: None, idle_seconds=0, concurrent=100,
                                rank_every=60)
        loop.start()
        await until(lambda: verifying() >= 3)  # and claiming the next
        async with asyncio.timeout(10):
            await loop.stop()
        left = verifying()
        for task in asyncio.all_tasks():
            if task.get_name().startswith("verify-"):
                task.cancel()
        await registry.aclose()
    assert left == 0
