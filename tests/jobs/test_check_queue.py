"""The web process's status checks: one at a time per order, and a check whose database
connection died under it (PostgreSQL restarted) tried again at once on a fresh one."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import pytest
from asyncpg.exceptions import InternalClientError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from assembly.settings import Settings
from gateway.db.engine import count_half_closed_as_disconnected, create_engine
from gateway.jobs.check_queue import PaymentChecks
from tests.network import postgres_relay
from tests.waiting import until


def lost_connection() -> DBAPIError:
    return DBAPIError("SELECT 1", None, Exception("server closed the connection"), connection_invalidated=True)


async def test_a_check_that_lost_its_connection_is_tried_again_once() -> None:
    calls: list[uuid.UUID] = []
    failures = [lost_connection()]

    async def check(order_id: uuid.UUID) -> None:
        calls.append(order_id)
        if failures:
            raise failures.pop()

    checks = PaymentChecks(check)
    order_id = uuid.uuid4()
    checks.request(order_id)
    await checks.wait_idle()
    assert calls == [order_id, order_id]


async def test_a_later_check_asked_for_another_reason_is_not_swallowed_by_one_already_waiting() -> None:
    """A callback's look for another process's start (at once, wanted only once the start is recorded) and an
    unvouched repeat's enquiry once the order's interval is over (wanted then): the first not wanted does not take
    the second's check with it."""
    calls: list[uuid.UUID] = []

    async def check(order_id: uuid.UUID) -> None:
        calls.append(order_id)

    async def never_recorded() -> bool:
        return False

    async def interval_over() -> bool:
        return True

    checks = PaymentChecks(check)
    order_id = uuid.uuid4()
    checks.request_later(order_id, 0, never_recorded)
    checks.request_later(order_id, 0.05, interval_over)
    checks.request_later(order_id, 0.05, interval_over)  # a repeat of the same wait: the same one
    await until(lambda: bool(calls))
    await checks.wait_idle()
    await checks.close()
    assert calls == [order_id]


async def test_other_failures_are_left_to_the_reconciler() -> None:
    calls = 0

    async def check(order_id: uuid.UUID) -> None:
        nonlocal calls
        calls += 1
        raise lost_connection() if calls > 1 else DBAPIError("SELECT 1", None, Exception("deadlock detected"))

    checks = PaymentChecks(check)
    checks.request(uuid.uuid4())
    await checks.wait_idle()
    assert calls == 1  # a failure that is not a dead connection is not repeated here


def test_a_connection_the_server_has_just_closed_counts_as_disconnected() -> None:
    driver_error = InternalClientError("cannot switch to state 11; another operation (2) is in progress")
    wrapped = Exception("adapted")
    wrapped.__cause__ = driver_error
    context = SimpleNamespace(original_exception=wrapped, is_disconnect=False)
    count_half_closed_as_disconnected(context)  # type: ignore[arg-type]
    assert context.is_disconnect is True
    other = SimpleNamespace(original_exception=InternalClientError("something else"), is_disconnect=False)
    count_half_closed_as_disconnected(other)  # type: ignore[arg-type]
    assert other.is_disconnect is False


async def test_a_pooled_connection_caught_half_closed_is_dropped_and_the_next_use_gets_a_fresh_one(
        settings: Settings) -> None:
    """The moment between PostgreSQL's goodbye and the socket's close, on the engine the app uses, held
    open by the network: the error says the connection is gone, and the pool does not hand it out again."""
    relay, url = await postgres_relay(settings.database_url or "")
    engine = create_engine(url, pool_size=1, max_overflow=0)
    admin = create_engine(settings.database_url or "", pool_size=1)
    try:
        async with engine.connect() as connection:
            backend = await connection.scalar(text("SELECT pg_backend_pid()"))
            goodbye = relay.hold_next_close()
            async with admin.connect() as other:  # a restart, or an operator, ends that backend
                assert await other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            await asyncio.wait_for(goodbye.wait(), 5)
            await asyncio.sleep(0.1)  # asyncpg has read the goodbye; its socket is still open
            with pytest.raises(DBAPIError) as caught:
                await connection.execute(text("SELECT 'caught half-closed'"))
            assert "cannot switch to state" in str(caught.value)  # what asyncpg answers in that moment
            assert caught.value.connection_invalidated  # what PaymentChecks retries on
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != backend
    finally:
        await engine.dispose()
        await admin.dispose()
        await relay.close()
