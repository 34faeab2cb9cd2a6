"""A web process SIGKILLed with a batch of counts in PostgreSQL, stopped between two of its members (an order's row
locked elsewhere): the batch is one transaction, so the orders it holds are all counted or none, whether PostgreSQL
finishes the pipeline the dead process sent or drops it; the dead process answered none of those callbacks, so MTN
sends each again, and each is counted exactly once. The web process is the service's own (`gateway web`, group
commit on as by default); the callbacks reach it over HTTP as MTN's do."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from assembly.settings import Settings
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from payments.mtn.callback_secret import QUERY_NAME, callback_key, order_secret
from tests.commands import command_env
from tests.factories import assert_tally_invariant, make_contest, place
from tests.fakes.mtn import FakeMtn, callback, paid_body
from tests.servers import free_port

STARTED_SECONDS = 60


@contextmanager
def web_process(settings: Settings, data: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    with (data / "web.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "assembly.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
            env=command_env(settings, GATEWAY_DATA_DIR=str(data),
                            SECRET_KEY=settings.secret_key.get_secret_value()),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


async def answering(port: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(STARTED_SECONDS * 10):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("gateway web never answered")


async def mtn_calls_back(http: aiohttp.ClientSession, port: int, settings: Settings, order: VoteOrder) -> int:
    secret = order_secret(callback_key(settings.secret_key.get_secret_value()), order.id)
    async with http.put(f"http://127.0.0.1:{port}/payments/mtn/callback/{order.id}?{QUERY_NAME}={secret}",
                        json=paid_body(order)) as response:
        return response.status


@asynccontextmanager
async def row_locked(sessions: Sessions, order_id: uuid.UUID) -> AsyncIterator[None]:
    """The order's row locked by another transaction (a status check settling it): its count waits for it."""
    async with sessions.begin() as session:
        await session.execute(text("SELECT 1 FROM vote_orders WHERE id = :id FOR UPDATE"), {"id": order_id})
        yield


async def backend_waiting_on_a_lock(sessions: Sessions) -> int:
    for _ in range(STARTED_SECONDS * 100):
        async with sessions() as session:
            pid = await session.scalar(text("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                            "AND datname = current_database()"))
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.01)
    raise AssertionError("no count ever waited on the locked row")


async def backend_gone(sessions: Sessions, pid: int) -> None:
    for _ in range(STARTED_SECONDS * 100):
        async with sessions() as session:
            if not await session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the dead process's backend never ended")


async def status_of(sessions: Sessions, order: VoteOrder) -> OrderStatus:
    return (await tables.get_order(sessions, order.id)).status


@pytest.mark.parametrize("database", ["finishes the batch", "drops the batch"])
async def test_a_web_process_killed_between_two_counts_of_a_batch_loses_none_and_doubles_none(
        database: str, client: TestClient, sessions: Sessions, settings: Settings, fake_mtn: FakeMtn,
        tmp_path: Path) -> None:
    contest = await make_contest(sessions, slug="gala", candidates=3)
    lone = await place(sessions, contest, "01", msisdn="+237670000400")
    batch = [await place(sessions, contest, candidate, msisdn=f"+23767000041{n}")
             for n, candidate in enumerate(("01", "01", "02", "03", "03"))]
    stopped_at = batch[2]  # sorted by candidate, two counts run before it and two after
    with web_process(settings, tmp_path) as (process, port):
        await answering(port)
        async with aiohttp.ClientSession() as http:
            async with row_locked(sessions, stopped_at.id):
                async with row_locked(sessions, lone.id):
                    counting_lone = asyncio.create_task(mtn_calls_back(http, port, settings, lone))
                    await backend_waiting_on_a_lock(sessions)  # the lone count holds the process's lane
                    sent = [asyncio.create_task(mtn_calls_back(http, port, settings, order)) for order in batch]
                    await asyncio.sleep(1)  # MTN's five callbacks reach the idle process and wait for its lane
                assert await counting_lone == 200
                pid = await backend_waiting_on_a_lock(sessions)  # the batch, two counts in, waits on the third
                assert await status_of(sessions, batch[0]) is OrderStatus.PENDING  # nothing of it committed
                process.send_signal(signal.SIGKILL)
                process.wait()
                if database == "drops the batch":
                    async with sessions() as session:
                        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await backend_gone(sessions, pid)  # the lock given back: PostgreSQL runs what it was sent, or not
        for answer in await asyncio.gather(*sent, return_exceptions=True):
            assert isinstance(answer, aiohttp.ClientError)  # MTN was answered nothing: it sends each again
    statuses = {await status_of(sessions, order) for order in batch}
    assert len(statuses) == 1  # all or none
    if database == "drops the batch":
        assert statuses == {OrderStatus.PENDING}
    for order in [lone, *batch]:  # MTN's callbacks again, to the process that replaced it
        assert await callback(client, order.id, paid_body(order)) == 200
        assert await status_of(sessions, order) is OrderStatus.PAID
    async with sessions() as session:
        counted = dict((await session.execute(text(
            "SELECT order_id, count(*) FROM ledger_entries WHERE kind = 'counted' GROUP BY order_id"))).all())
    assert counted == {order.id: 1 for order in [lone, *batch]}
    await assert_tally_invariant(sessions, contest.id)
