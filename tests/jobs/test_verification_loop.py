"""A web process's verification loop at a stop (each deploy, each restart): its claim and its ranking under way
finish, and their connections go back to the pool, rather than being cut inside a statement."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import event

from assembly.providers import build_providers
from assembly.settings import Settings
from gateway.core.providers import PaymentProvider
from gateway.db.engine import create_engine, session_factory
from gateway.jobs.verifications import VerificationLoop

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
