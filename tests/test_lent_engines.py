"""An app lent its database engines serves on them and leaves them as it found them: the next app reuses their
connections rather than open its own (each a PostgreSQL backend and asyncpg's look-up of our types)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.pool import QueuePool

from assembly.settings import Settings
from assembly.web.app import LentEngines, create_app
from assembly.web.keys import ENGINE
from gateway.db.engine import create_engine


async def test_an_app_serves_on_lent_engines_and_leaves_their_connections_open(clean: None,
                                                                             settings: Settings) -> None:
    url = settings.database_url or ""
    lent = LentEngines(create_engine(url, pool_size=2), create_engine(url, pool_size=1),
                       create_engine(url, pool_size=1))
    try:
        for _ in range(2):
            app = create_app(settings, lent=lent)
            async with TestClient(TestServer(app)) as client:
                assert (await client.get("/readyz")).status == 200
                assert client.app[ENGINE] is lent.requests
            pool = lent.requests.pool
            assert isinstance(pool, QueuePool)
            assert pool.checkedin() >= 1  # the app has stopped: its connections wait, open, for the next one
    finally:
        for engine in (lent.requests, lent.verification, lent.board):
            await engine.dispose()
