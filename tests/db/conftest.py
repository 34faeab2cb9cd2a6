"""The migration tests downgrade and upgrade the suite's own database: the enum types they drop come back with
new OIDs, which connections already in the session's pool would still name in their prepared statements
("cache lookup failed for type …" in whichever test used them next). After each test here the pool is emptied."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.web.app import LentEngines


@pytest.fixture(autouse=True)
async def fresh_connections_after(engine: AsyncEngine, lent_engines: LentEngines) -> AsyncIterator[None]:
    """The apps' lent engines too: a table a downgrade dropped comes back new, and a statement they prepared on it
    before ("cached statement plan is invalid") fails in whichever test used it next."""
    yield
    for each in (engine, lent_engines.requests, lent_engines.verification):
        await each.dispose()
