"""Shared fixtures: one real PostgreSQL and Redis for the session, clean tables for every test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, async_playwright
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.app import create_app
from assembly.channel_list import MIGRATIONS
from assembly.embedded import ServiceUrls
from assembly.settings import Settings
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import Base
from gateway.kit.keys import STARTS
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.factories import TEST_RESULTS_KEY
from tests.fakes.mtn import FakeMtn, faked_mtn
from tests.servers import test_services

TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)
AUDIT_NO_TRUNCATE = "audit_log_no_truncate"


@pytest.fixture(scope="session")
def services() -> Iterator[ServiceUrls]:
    # Not under pytest's temporary root: the embedded PostgreSQL runs as its own system user when the tests run
    # as root, and every pytest session that starts makes that root 0700 again, which would cut the server
    # of a suite already running (two suites at once on one machine) off from its own files.
    with tempfile.TemporaryDirectory(prefix="ballot-tests-") as scratch:
        with test_services(os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL"), Path(scratch)) as urls:
            upgrade(urls.database_url, MIGRATIONS)
            yield urls


@pytest.fixture(scope="session")
def settings(services: ServiceUrls, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        _env_file=None, database_url=services.database_url, redis_url=services.redis_url,
        gateway_data_dir=tmp_path_factory.mktemp("data"), public_base_url="http://127.0.0.1:8080",
        results_signing_key=SecretStr(TEST_RESULTS_KEY),  # production-mode apps built from these start
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url or "", pool_size=20)
    yield engine
    await engine.dispose()


@pytest.fixture
async def clean(engine: AsyncEngine, settings: Settings) -> None:
    """Empty tables and an empty Redis DB: every test that uses the stores starts from nothing."""
    async with engine.begin() as connection:
        # The audit trail refuses TRUNCATE (a statement trigger); between tests alone it is emptied, its trigger
        # off inside this transaction only. The tests' role owns the tables (it ran the migrations) or is
        # CI's superuser: either may, on any PostgreSQL.
        await connection.execute(text(f"ALTER TABLE audit_log DISABLE TRIGGER {AUDIT_NO_TRUNCATE}"))
        await connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        await connection.execute(text(f"ALTER TABLE audit_log ENABLE TRIGGER {AUDIT_NO_TRUNCATE}"))
    client = Redis.from_url(settings.redis_url or "")
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def sessions(clean: None, engine: AsyncEngine) -> Sessions:
    return session_factory(engine)


@pytest.fixture
async def redis(clean: None, settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url or "")
    yield client
    await client.aclose()


@pytest.fixture
async def client(clean: None, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(settings)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
        # Most tests have no provider listening; a prompt still being retried is dropped at once
        # rather than given the shutdown grace a real provider call gets.
        await app[STARTS].close(grace=0)


@pytest.fixture
def fake_mtn(settings: Settings) -> Iterator[FakeMtn]:
    """MTN faked at the wire (respx) where the app looks for it."""
    yield from faked_mtn(settings)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, for the browser tests."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
