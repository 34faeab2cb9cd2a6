"""What the libraries alone cost for the exchanges one confirmed vote needs, with none of our logic.

A confirmed vote is, in a web process: two requests served by aiohttp (the vote, MTN's callback), one
request made through the providers' client (httpx over aiohttp: the request-to-pay; the status GET that verifies it
later is a tenth of one, MTN's cap being 10 a second), and seven SQL statements on a pooled connection: the
placement's three in one BEGIN/COMMIT (the contest's read under the payer's lock, the fraud counters, the order's
insert), the start's record, the callback's load of its order and the counting statement, all six run by asyncpg
itself (`gateway/db/driver_statements.py`), and the relay's pass, by asyncpg too (its read of the outbox and its
mark, in one BEGIN/COMMIT; under load shared by the votes of a pass). This measures each of
those on the same machine, each side's CPU from `/proc` (a server in its own process; PostgreSQL's backends too,
each statement's round trip with next to no work in it), so that `bench.votes`'s CPU per vote can be set beside
what it could not go under without changing libraries. Under load the counting statements of several callbacks
share one execution (`gateway/core/orders/count_batches.py`): the floor counts a lone vote's.

    python -m bench.floor [--requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvloop
from aiohttp import web
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from assembly.machine.embedded import service_urls
from assembly.resources.http_client import provider_http_client
from bench.harness import free_port, print_report, record
from gateway.db.engine import async_url

BODY = {"candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "+237670000001"}
# A lone vote's statements besides the placement's three in a transaction: run by asyncpg (the start's record, the
# callback's load of its order, the counting statement), and the relay's two by asyncpg in BEGIN/COMMIT.
DRIVER_STATEMENTS_ALONE = 3
CORE_IN_TRANSACTION = "the same in BEGIN/COMMIT"
CORE_STATEMENT = "SQLAlchemy Core statement, pooled connection"
DRIVER_STATEMENT = "the same, asyncpg under SQLAlchemy's pool"
CONCURRENCY = 16  # the web process's payment starts in flight at once (gateway/core/money_in/start_queue.py)
THREE_IN_TRANSACTION = "three asyncpg statements in BEGIN/COMMIT (5 round trips)"
TWO_IN_TRANSACTION = "two asyncpg statements in BEGIN/COMMIT (4 round trips)"
PROVIDERS_CLIENT = f"providers' client (httpx over aiohttp), {CONCURRENCY} at once"


def serve(port: int) -> None:
    """The cheapest aiohttp JSON endpoint: read the body, answer a small object."""
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"order": {"id": "0" * 36, "status": "pending"}})

    app = web.Application()
    app.router.add_post("/", handle)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def in_parallel(requests: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> float:
    """CPU milliseconds of this process per call of `one`, `concurrency` callers at once."""
    async def caller() -> None:
        for _ in range(requests // concurrency):
            await one()

    started = time.process_time()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return (time.process_time() - started) * 1000 / (requests // concurrency * concurrency)


async def http_figures(url: str, server_pid: int, requests: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        async def aiohttp_post() -> None:
            async with session.post(url, json=BODY) as response:
                await response.read()

        await in_parallel(requests // 10, CONCURRENCY, aiohttp_post)  # warm: connections opened
        server_before = process_cpu(server_pid)
        figures["aiohttp client"] = await in_parallel(requests, CONCURRENCY, aiohttp_post)
        figures["aiohttp server"] = (process_cpu(server_pid) - server_before) * 1000 / requests
    async with httpx.AsyncClient() as client:
        async def httpx_post() -> None:
            await client.post(url, json=BODY, headers={"Authorization": "Bearer token", "X-Reference-Id": "r"})

        for concurrency in (1, CONCURRENCY):
            await in_parallel(requests // 10, concurrency, httpx_post)
            figures[f"httpx client, {concurrency} at once"] = await in_parallel(requests, concurrency, httpx_post)
    async with provider_http_client() as providers:  # what the service sends the providers' requests through
        async def provider_post() -> None:
            await providers.post(url, json=BODY, headers={"Authorization": "Bearer token", "X-Reference-Id": "r"})

        await in_parallel(requests // 10, CONCURRENCY, provider_post)
        figures[PROVIDERS_CLIENT] = await in_parallel(requests, CONCURRENCY, provider_post)
    return figures


async def backends_cpu(engine: AsyncEngine) -> float | None:
    """CPU seconds of this database's client backends so far, from their `/proc`; None for a PostgreSQL on another
    machine (none of its backends is a process here)."""
    async with engine.connect() as connection:
        pids = (await connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()"))).scalars().all()
    seen = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    return sum(process_cpu(pid) for pid in seen) if seen else None


async def sql_figures(database_url: str, requests: int) -> dict[str, tuple[float, float | None]]:
    """Per call: this process's CPU and PostgreSQL's (its backends', None when they are not on this machine), in
    ms."""
    metadata = MetaData()
    table = Table("floor_rows", metadata, Column("id", Integer, primary_key=True), Column("name", String))
    by_id = select(table).where(table.c.id == bindparam("key"))
    engine: AsyncEngine = create_async_engine(async_url(database_url), pool_size=CONCURRENCY)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(text("INSERT INTO floor_rows VALUES (1, 'a') ON CONFLICT DO NOTHING"))

    async def pooled_statement() -> None:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            (await connection.execute(by_id, {"key": 1})).one()

    async def in_transaction() -> None:
        async with engine.begin() as connection:
            (await connection.execute(by_id, {"key": 1})).one()

    async def driver(connection: AsyncConnection) -> Any:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        return raw

    async def raw_asyncpg() -> None:
        async with engine.connect() as connection:
            await (await driver(connection)).fetchrow("SELECT id, name FROM floor_rows WHERE id = $1", 1)

    def in_driver_transaction(statements: int) -> Callable[[], Awaitable[None]]:
        async def one() -> None:  # a placement's shape (three statements), a relay pass's (two)
            async with engine.connect() as connection:
                raw = await driver(connection)
                async with raw.transaction():
                    for _ in range(statements):
                        await raw.fetchrow("SELECT id, name FROM floor_rows WHERE id = $1", 1)
        return one

    figures: dict[str, tuple[float, float | None]] = {}
    try:
        for label, one in ((CORE_STATEMENT, pooled_statement),
                           (CORE_IN_TRANSACTION, in_transaction),
                           (DRIVER_STATEMENT, raw_asyncpg),
                           (THREE_IN_TRANSACTION, in_driver_transaction(3)),
                           (TWO_IN_TRANSACTION, in_driver_transaction(2))):
            await in_parallel(requests // 10, CONCURRENCY, one)
            server_before = await backends_cpu(engine)
            client = await in_parallel(requests, CONCURRENCY, one)
            server_after = await backends_cpu(engine)
            figures[label] = (client, None if server_before is None or server_after is None
                              else (server_after - server_before) * 1000 / requests)
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
        await engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port,), daemon=True)
    server.start()
    time.sleep(1.5)
    assert server.pid is not None
    try:
        http = uvloop.run(http_figures(f"http://127.0.0.1:{port}/", server.pid, args.requests))
    finally:
        server.kill()
    with tempfile.TemporaryDirectory(prefix="ballot-floor-") as data, \
            service_urls(os.environ.get("DATABASE_URL"), "unused", Path(data)) as urls:
        sql = uvloop.run(sql_figures(urls.database_url, args.requests))
    floor = (2 * http["aiohttp server"] + http[PROVIDERS_CLIENT] + sql[THREE_IN_TRANSACTION][0]
             + DRIVER_STATEMENTS_ALONE * sql[DRIVER_STATEMENT][0]
             + sql[TWO_IN_TRANSACTION][0])
    figures = {f"{label}, CPU per request, ms": f"{value:.3f}" for label, value in http.items()}
    figures |= {f"{label}, CPU, ms": f"client {client:.3f}, PostgreSQL "
                + ("not on this machine" if server is None else f"{server:.3f}")
                for label, (client, server) in sql.items()}
    figures["floor of a confirmed vote in the web process"] = (
        f"{floor:.2f} ms (2 aiohttp requests served, 1 request through the providers' client at {CONCURRENCY} "
        f"at once, 3 asyncpg statements in BEGIN/COMMIT, {DRIVER_STATEMENTS_ALONE} asyncpg statements alone, "
        "2 asyncpg statements in BEGIN/COMMIT; none of our logic, no Redis, no SSE)")
    record("floor", print_report("floor: the libraries' own cost for one vote's exchanges", figures))


if __name__ == "__main__":
    main()
