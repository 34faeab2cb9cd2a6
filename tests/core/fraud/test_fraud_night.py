"""A show night with ground truth, seeded unlike the benchmark's (bench.fraud plays seed 1 with 5,000 fans), so
that the rules are judged on a crowd they were not tuned to: the honest fans behind carrier addresses count, and
the attacks the rules are meant for are held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from assembly.settings import Settings
from bench import fraud
from bench.crowd import HONEST, show_night
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.models import VoteOrder

SEED, VOTERS, MINUTES = 2, 400, 120  # a small crowd, but the attacks of a whole night
MEANT_TO_CATCH = ("sim_farm", "api_flood", "telegram_many_numbers")


@pytest.fixture
async def sessions(clean: None, settings: Settings) -> AsyncIterator[Sessions]:
    """Sessions whose pool keeps a connection for every step the replay has in flight, as bench.fraud.run_night's
    does. The suite's shared engine keeps 4: with 8 steps at once, the other 4 each opened a connection (a backend
    forked, asyncpg's look-up of our types, every statement prepared again) and closed it after, for most of the
    night's steps: 114 s of the test, against 50 s with these (both on this 2-core machine, busy alike)."""
    engine = create_engine(settings.database_url or "", pool_size=fraud.CONCURRENCY + 2)
    yield session_factory(engine)
    await engine.dispose()


async def test_a_night_of_a_crowd_the_rules_never_saw_holds_the_attacks_and_not_the_fans(sessions: Sessions) -> None:
    crowd = show_night(SEED, VOTERS, MINUTES)
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    contest_id = await fraud.open_show(sessions, start, max(order.charged_back_at or order.at for order in crowd),
                                       slug=f"night-{SEED}")
    meter = fraud.Meter(postmaster=0, total=len(crowd), window=len(crowd))  # no CPU figures here
    fates = await fraud.replay(sessions, crowd, start, meter, slug=f"night-{SEED}")
    async with sessions() as session:
        rows = await session.execute(select(VoteOrder.id, VoteOrder.status, VoteOrder.hold_reason)
                                     .where(VoteOrder.contest_id == contest_id))
        statuses = {order_id: (str(status), reason) for order_id, status, reason in rows}
    replayed = fraud.Replayed(fates, statuses, meter, 0.0)
    by_family: dict[str, list[tuple[fraud.CrowdOrder, fraud.Fate]]] = {}
    for order, fate in zip(crowd, fates, strict=True):
        by_family.setdefault(order.family, []).append((order, fate))
    found = {family: fraud.caught(orders, statuses) for family, orders in by_family.items()}

    assert fraud.carrier_voters_held(crowd, replayed)[0] == 0
    honest = found[HONEST]
    assert honest.paid > 1000 and honest.held_votes <= honest.paid_votes * 0.001, honest
    for family in MEANT_TO_CATCH:
        assert found[family].recall >= 0.95, (family, found[family])
