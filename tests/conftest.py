"""Shared fixtures: one real PostgreSQL and Redis for the session, clean tables for every test."""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Playwright, async_playwright, expect
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.channel_list import MIGRATIONS
from assembly.machine.database_connections import BOARD_CONNECTIONS, REQUEST_CONNECTIONS, VERIFICATION_CONNECTIONS
from assembly.machine.embedded import ServiceUrls
from assembly.settings import Settings
from assembly.web.app import STATEMENT_TIMEOUT_SECONDS, LentEngines, create_app
from assembly.web.keys import STARTS
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import Base
from tests.app_lifetimes import forget_served_apps
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, EXPECT_SECONDS
from tests.emptying import Emptying, empty, planned
from tests.factories import TEST_RESULTS_KEY, TEST_TOTP_KEY
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn, faked_mtn
from tests.servers import CLOSED, aimed_at, test_services
from tests.stuck_tasks import tell_pending_tasks_first

# Every setting whose default is a local service (a URL on loopback, the service's port) points at a port of the
# suite's own where nothing listens, for every Settings a test builds and every process it starts (they inherit the
# environment): a test that needs a service starts its own and says where; none reaches `make run`'s.
os.environ.update(aimed_at(CLOSED, Settings))
# One key seals the admins' TOTP secrets for every Settings a test builds and every process it starts: an account made
# here signs in to a `gateway web` the test started (a test of the key's absence says so).
os.environ["ADMIN_TOTP_KEYS"] = TEST_TOTP_KEY
# The workers a test starts run at the test processes' own priority: on this machine four test processes, their
# servers and browsers keep every core taken, and a nicer worker would wait behind them, not behind a web process of
# its own installation (tests/test_cli.py checks the default, 10, as `gateway run` applies it).
os.environ["GATEWAY_WORKER_NICENESS"] = "0"

LOCK_NOT_AVAILABLE = "55P03"


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
        gateway_data_dir=tmp_path_factory.mktemp("data"),
        results_signing_key=SecretStr(TEST_RESULTS_KEY),  # production-mode apps built from these start
        media_upload_url="https://media.example.org", media_files_url="https://media.example.org",
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    # Few kept idle: against CI's PostgreSQL (100 connections) the four test processes share one server, where 20
    # kept by each left an app's pool of 24 and a burst's second app too few ("too many clients already").
    engine = create_engine(settings.database_url or "", pool_size=4, max_overflow=16)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def emptying(engine: AsyncEngine) -> Emptying:
    """What `clean` empties: the models' tables, and every table (a channel's) that refers to one."""
    async with engine.connect() as connection:
        return await planned(connection, (table.name for table in Base.metadata.sorted_tables))


# How long emptying the tables waits for a lock before it looks for who holds it.
CLEAN_LOCK_TIMEOUT = "20s"
# The connections the emptying waits for: a transaction an earlier test left open on the rows or tables it empties
# (its server not stopped, a task left running on the session's loop, a child process).
BLOCKERS = text("""
    SELECT pid, coalesce(application_name, ''), coalesce(state, ''), left(coalesce(query, ''), 200)
    FROM pg_stat_activity WHERE pid = ANY(pg_blocking_pids(:cleaning))
""")


async def empty_tables(engine: AsyncEngine, emptying: Emptying, pid: asyncio.Future[int] | None = None) -> None:
    async with engine.begin() as connection:
        if pid is not None:
            pid.set_result(int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0))
        await connection.execute(text(f"SET LOCAL lock_timeout = '{CLEAN_LOCK_TIMEOUT}'"))
        await empty(connection, emptying)


async def empty_tables_ending_blockers(engine: AsyncEngine, emptying: Emptying) -> list[str]:
    """Empty the tables again, ending the connections this emptying itself waits for (and only those)."""
    pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    cleaning = asyncio.ensure_future(empty_tables(engine, emptying, pid))
    ended: list[str] = []
    try:
        await asyncio.wait((pid, cleaning), return_when=asyncio.FIRST_COMPLETED)
        if not pid.done():  # it failed before it began: say why
            await cleaning
        async with engine.connect() as connection:
            cleaning_pid = pid.result()
            while not cleaning.done() and not ended:
                await asyncio.sleep(1)
                for blocker, application, state, query in (
                        await connection.execute(BLOCKERS, {"cleaning": cleaning_pid})).all():
                    await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": blocker})
                    ended.append(f"pid {blocker} ({application or 'no name'}, {state}): {query}")
                await connection.commit()
        await cleaning
    finally:
        cleaning.cancel()
    return ended


@pytest.fixture
async def clean(engine: AsyncEngine, emptying: Emptying, settings: Settings,
                request: pytest.FixtureRequest) -> None:
    """Empty tables and an empty Redis DB: every test that uses the stores starts from nothing.

    A connection an earlier test left in a transaction would make the emptying wait forever: past its lock
    time-out, the connections it waits for are ended and named in the run's summary (`pytest_terminal_summary`),
    so the leak shows without failing the test that met it."""
    try:
        await empty_tables(engine, emptying)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        ended = await empty_tables_ending_blockers(engine, emptying)
        request.node.user_properties.append(("cleanup_ended_connections", ended))
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


@pytest.fixture(scope="session")
async def lent_engines(settings: Settings) -> AsyncIterator[LentEngines]:
    """The database engines every `client` app of this process is lent: an app's own would open its connections
    anew, a PostgreSQL backend and asyncpg's look-up of our types each, for every test. The same engines as a web
    process's, their connections as many at most; few are kept idle, as CI's PostgreSQL (100 connections)
    is shared by the four test processes."""
    url = settings.database_url or ""
    lent = LentEngines(
        create_engine(url, pool_size=4, max_overflow=REQUEST_CONNECTIONS - 4,
                      statement_timeout_seconds=STATEMENT_TIMEOUT_SECONDS),
        create_engine(url, pool_size=1, max_overflow=VERIFICATION_CONNECTIONS - 1,
                      statement_timeout_seconds=STATEMENT_TIMEOUT_SECONDS),
        create_engine(url, pool_size=1, max_overflow=BOARD_CONNECTIONS - 1,
                      statement_timeout_seconds=STATEMENT_TIMEOUT_SECONDS))
    yield lent
    for engine in (lent.requests, lent.verification, lent.board):
        await engine.dispose()


@pytest.fixture
async def client(clean: None, settings: Settings, lent_engines: LentEngines) -> AsyncIterator[TestClient]:
    app = create_app(settings, lent=lent_engines)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
        # Most tests have no provider listening; a prompt still being retried is dropped at once
        # rather than given the shutdown grace a real provider call gets.
        await app[STARTS].close(grace=0)


@pytest.fixture
def fake_mtn(settings: Settings) -> Iterator[FakeMtn]:
    """MTN faked at the wire (respx) where the app looks for it."""
    yield from faked_mtn(settings)


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    expect.set_options(timeout=EXPECT_SECONDS * 1000)
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def chromium(playwright: Playwright) -> AsyncIterator[list[Browser]]:
    """One Chromium for the process's browser tests (starting one costs a second or two a test); a list so that
    one which died is replaced."""
    running: list[Browser] = []
    yield running
    for launched in running:
        await launched.close()


@pytest.fixture
async def browser(playwright: Playwright, chromium: list[Browser]) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, for the browser tests. Every page a test opens is in a context of its own
    (cookies, storage, cache): the contexts it leaves are closed after it, so the next test meets none of them."""
    if not chromium or not chromium[0].is_connected():
        chromium[:] = [await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)]
    launched = chromium[0]
    yield launched
    for context in launched.contexts:
        await context.close()


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported (the service, its libraries, aiogram's types: some 260,000-420,000 objects) lives as
    long as the process: kept out of every later full collection, which walked all of it each time, as `gateway web`
    keeps its start-up's (assembly.web.app.freeze_startup_objects). What the tests make is collected as before, so a
    socket or connection a test leaves still warns."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(hookwrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Generator[None, Any, None]:
    """A test or fixture that runs out of time is reported with the asyncio tasks it left waiting."""
    yield
    tell_pending_tasks_first()


@pytest.hookimpl(trylast=True)  # after the test's fixtures have stopped its apps
def pytest_runtest_teardown(item: pytest.Item) -> None:
    forget_served_apps()  # the test's apps go with it (tests/app_lifetimes.py)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The connections the tables' emptying had to end: a test before each left a transaction open."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, ended in getattr(report, "user_properties", ()):
                if name == "cleanup_ended_connections" and getattr(report, "when", "") == "setup":
                    terminalreporter.write_line(f"{report.nodeid}: emptying the tables ended {ended}", yellow=True)


@pytest.fixture
def fake_at() -> Iterator[FakeAt]:
    """Africa's Talking's messaging API faked at the wire (the africastalking SDK sends through requests)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeAt(mock)
