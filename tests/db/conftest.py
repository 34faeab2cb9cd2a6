"""The migration tests downgrade and upgrade the suite's own database: the enum types they drop come back with
new OIDs, which connections already in the session's pool would still name in their prepared statements
("cache lookup failed for type …" in whichever test used them next). After each test here the pool is emptied."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine


@pytest.fixture(autouse=True)
async def fresh_connections_after(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    await engine.dispose()
