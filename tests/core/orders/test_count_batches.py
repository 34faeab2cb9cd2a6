"""Group commit, on by default: a lone callback is counted at once; MTN's callbacks that arrive while the process's
counting lane is busy are counted together in one transaction once it is free, each answered once its batch is
committed; a count that fails fails alone, the rest of its batch counted; a count waiting when the process stops
is counted before it stops, and one whose batch is cut off is answered with a failure, never left waiting; the log
says when a callback arrived, not when its batch ran, but never so long before PostgreSQL's now that the event looks
cut short as it is kept; with no lanes (`COUNT_BATCH_LANES=0`), each count has its own transaction. MTN faked at the
wire (respx)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.core.money_in.callback_settling import receive_callback, store_event
from gateway.core.orders import counting, tables
from gateway.core.orders.count_batches import CountBatches
from gateway.core.orders.kept_events import ARRIVAL_SLACK, EventToKeep
from gateway.core.orders.outcomes import Outcome
from gateway.db.engine import Sessions, autocommit_connection
from gateway.db.models import OrderStatus, ProviderEvent, VoteOrder
from gateway.kit.keys import PROVIDERS, SETTINGS
from payments.mtn.callback_secret import callback_key, order_secret
from tests.factories import assert_tally_invariant, make_contest, place, tallies
from tests.fakes.mtn import FakeMtn, callback, paid_body
from tests.order_triggers import before_order_updates


async def pending_orders(sessions: Sessions, count: int) -> list[VoteOrder]:
    contest = await make_contest(sessions, slug="gala")
    return [await place(sessions, contest, msisdn=f"+2376700003{n:02d}") for n in range(count)]


async def transactions_that_paid(sessions: Sessions) -> int:
    """How many transactions wrote the paid orders (a row's xmin is the transaction that wrote its version)."""
    async with sessions() as session:
        return int(await session.scalar(text("SELECT count(DISTINCT xmin::text) FROM vote_orders "
                                             "WHERE status = 'paid'")) or 0)


@pytest.fixture
async def one_by_one(clean: None, settings: Settings) -> AsyncIterator[TestClient]:
    """The app with group commit off (`COUNT_BATCH_LANES=0`)."""
    async with TestClient(TestServer(create_app(settings.model_copy(update={"count_batch_lanes": 0})))) as app:
        yield app


def count_of(batches: CountBatches, order: VoteOrder, txn: str) -> asyncio.Task[tuple[object, int | None]]:
    """MTN's callback paying `order`, counted through `batches` (as the web process counts it)."""
    event = EventToKeep("mtn", None, order.id, "callback.successful", {}, b"{}")
    return asyncio.create_task(counting.count_keeping_event(
        lambda statement, params: batches.fetchrow(statement, params, (order.contest_id, 0)), event, "SUCCESSFUL",
        order.amount, order.currency, txn, verify_later=True))


async def test_callbacks_that_arrive_together_are_counted_in_fewer_transactions_than_votes(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    orders = await pending_orders(sessions, 12)
    answers = await asyncio.gather(*(callback(client, order.id, paid_body(order)) for order in orders))
    assert answers == [200] * 12
    for order in orders:  # each answered only once its count was committed
        assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PAID
    assert (await tallies(sessions, orders[0].contest_id))["01"] == sum(order.quantity for order in orders)
    assert await transactions_that_paid(sessions) < 12
    await assert_tally_invariant(sessions, orders[0].contest_id)


async def test_with_group_commit_off_each_callback_is_counted_in_a_transaction_of_its_own(
        one_by_one: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    orders = await pending_orders(sessions, 6)
    answers = await asyncio.gather(*(callback(one_by_one, order.id, paid_body(order)) for order in orders))
    assert answers == [200] * 6
    assert await transactions_that_paid(sessions) == 6


async def test_a_lone_count_waits_for_no_others_and_those_that_come_while_it_runs_go_together(
        sessions: Sessions) -> None:
    """No timer: a count that finds the lane free runs at once, so a lone vote is not held back; the counts that
    arrive while it is in PostgreSQL wait, and then all go in one transaction."""
    orders = await pending_orders(sessions, 6)
    batches = CountBatches(sessions, lanes=1)
    async with locking_the_order(sessions, orders[0].id):
        first = count_of(batches, orders[0], "mtn-cb-0")
        await a_count_waits_on_a_lock(sessions)  # the lone count is in PostgreSQL, not waiting for others
        rest = [count_of(batches, order, f"mtn-cb-{n}") for n, order in enumerate(orders[1:], 1)]
        await asyncio.sleep(0.2)  # long enough for a batch of theirs to commit, were they not waiting for the lane
        assert not any(task.done() for task in [first, *rest])
    for task in [first, *rest]:
        assert (await asyncio.wait_for(task, timeout=10))[0] is not None
    assert await transactions_that_paid(sessions) == 2  # the lone one, then the five that waited for it
    assert (batches.batches, batches.counts) == (2, 6)
    await assert_tally_invariant(sessions, orders[0].contest_id)


async def test_a_count_that_fails_in_a_batch_fails_alone_and_counts_when_mtn_sends_it_again(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    orders = await pending_orders(sessions, 6)
    refused = orders[2]
    async with refusing_the_count_of(sessions, refused.id):
        answers = await asyncio.gather(*(callback(client, order.id, paid_body(order)) for order in orders))
    assert answers[2] >= 500 and answers[:2] + answers[3:] == [200] * 5  # MTN sends the refused one again
    assert (await tables.get_order(sessions, refused.id)).status is OrderStatus.PENDING
    assert await callback(client, refused.id, paid_body(refused)) == 200
    for order in orders:
        assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PAID
    await assert_tally_invariant(sessions, refused.contest_id)


async def test_a_count_waiting_for_its_batch_when_the_process_stops_is_counted_before_it_stops(
        sessions: Sessions) -> None:
    orders = await pending_orders(sessions, 2)
    batches = CountBatches(sessions)
    async with batches.leading():  # the lane busy with another count: the next one waits
        counting_it = count_of(batches, orders[1], "mtn-cb-1")
        await asyncio.sleep(0.05)
        assert not counting_it.done()
        closing = asyncio.create_task(batches.close())
    await asyncio.wait_for(closing, timeout=10)
    assert counting_it.done() and counting_it.result()[0] is not None
    assert (await tables.get_order(sessions, orders[1].id)).status is OrderStatus.PAID


async def test_a_callback_counted_in_a_batch_is_logged_as_received_when_it_arrived_not_when_its_batch_ran(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    [order] = await pending_orders(sessions, 1)
    batches = CountBatches(sessions)
    secret = order_secret(callback_key(client.app[SETTINGS].secret_key.get_secret_value()), order.id)
    arrived = datetime.now(UTC)
    async with batches.leading():  # the lane busy for a second: the callback's count waits for its batch
        receiving = asyncio.create_task(receive_callback(
            sessions, client.app[PROVIDERS], "mtn", order.id, {}, json.dumps(paid_body(order)).encode(),
            secret=secret, batches=batches))
        await asyncio.sleep(1)
    outcome = await receiving
    assert outcome.outcome is Outcome.COUNTED and datetime.now(UTC) - arrived >= timedelta(seconds=1)
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent))).one()
    assert (event.outcome, event.received_at - arrived < timedelta(seconds=0.5)) == ("counted", True)


async def test_an_event_kept_by_a_host_whose_clock_runs_behind_the_databases_is_not_taken_for_one_cut_short(
        sessions: Sessions) -> None:
    """A web host two minutes behind PostgreSQL keeps a Stripe event it is still settling: Stripe's redelivery a
    moment later must be told to wait (the event is being settled), not claim it as one whose process died."""
    behind = datetime.now(UTC) - timedelta(minutes=2)
    first = EventToKeep("stripe", "evt_clock", None, "charge.refunded", {}, b"{}", behind)
    async with autocommit_connection(sessions) as connection:
        assert await store_event(connection, first) is not None  # kept, no outcome yet: being settled
        redelivered = EventToKeep("stripe", "evt_clock", None, "charge.refunded", {}, b"{}", datetime.now(UTC))
        assert await store_event(connection, redelivered) is None  # not claimed: the intake answers 503
        kept_at = await connection.scalar(select(ProviderEvent.received_at))
        database_now = await connection.scalar(text("SELECT now()"))
        assert database_now - kept_at < ARRIVAL_SLACK + timedelta(seconds=1)  # not the host's two minutes


async def test_a_count_whose_batch_is_cut_off_is_answered_with_a_failure_not_left_waiting(
        sessions: Sessions) -> None:
    """The loop torn down under a batch (no `close`): its callbacks fail, so the provider sends them again."""
    [order] = await pending_orders(sessions, 1)
    batches = CountBatches(sessions)
    async with slowing_the_count(sessions):
        counting_it = count_of(batches, order, "mtn-cb-1")
        await asyncio.sleep(0.3)  # the batch is in PostgreSQL, waiting on the slow trigger
        runs = [task for task in asyncio.all_tasks() if task.get_coro().__qualname__ == "CountBatches._lane"]
        assert len(runs) == 1
        runs[0].cancel()
        with pytest.raises(RuntimeError, match="cut off"):
            await asyncio.wait_for(counting_it, timeout=5)


@asynccontextmanager
async def locking_the_order(sessions: Sessions, order_id: uuid.UUID) -> AsyncIterator[None]:
    """The order's row locked elsewhere, as by a status check settling it: its count waits in PostgreSQL."""
    async with sessions.begin() as session:
        await session.execute(text("SELECT 1 FROM vote_orders WHERE id = :id FOR UPDATE"), {"id": order_id})
        yield


async def a_count_waits_on_a_lock(sessions: Sessions, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with sessions() as session:
            if await session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                         "AND datname = current_database()")):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("no count ever waited on the lock")


def slowing_the_count(sessions: Sessions) -> AbstractAsyncContextManager[None]:
    """Each order paid waits a second in PostgreSQL, as under a lock held elsewhere."""
    return before_order_updates(sessions, "test_slow_count", "PERFORM pg_sleep(1);")


def refusing_the_count_of(sessions: Sessions, order_id: uuid.UUID) -> AbstractAsyncContextManager[None]:
    """PostgreSQL refuses to count one order, as it would a row it cannot write."""
    return before_order_updates(sessions, "test_refuse_count", f"IF NEW.id = '{order_id}' AND NEW.status = 'paid' "
                                "THEN RAISE EXCEPTION 'could not write block: No space left on device'; END IF;")
