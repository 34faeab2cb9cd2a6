"""The hot statements are planned once per connection, not for every vote: PostgreSQL's plan of a prepared statement
for the values at hand costs it about 0.1 ms a vote, from the first order, whatever else the vote does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from assembly.settings import Settings
from gateway.db.engine import Sessions, create_engine, session_factory
from tests.factories import make_contest, place

PLANS = text("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
             "WHERE statement LIKE 'INSERT INTO vote_orders %'")


@pytest.fixture
async def one_connection(settings: Settings, sessions: Sessions) -> AsyncIterator[Sessions]:
    """Every statement on one pooled connection, whose prepared statements can then be read."""
    engine = create_engine(settings.database_url or "", pool_size=1)
    yield session_factory(engine)
    await engine.dispose()


async def test_placing_orders_plans_the_order_insert_once(sessions: Sessions, one_connection: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2)
    for n in range(20):
        await place(one_connection, contest, "01", msisdn=f"+2376700{n:05d}")  # far from every limit
    async with one_connection.kw["bind"].connect() as connection:
        generic, custom = (await connection.execute(PLANS)).one()
    # PostgreSQL tries five plans for the values at hand, then keeps one for all when it costs no more.
    assert (generic, custom) == (15, 5)
