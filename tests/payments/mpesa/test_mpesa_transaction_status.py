"""M-Pesa money out whose Result Daraja never posts: the worker's look asks Daraja's Transaction Status query, whose
own Result (on our status URL) settles the payout or the reversal; one Daraja never carried out is found missing and
sent again under the same reference, and refunds once. Our app and the Daraja sandbox over localhost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from assembly.settings import Settings
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.money_out.refunds import request_refund
from gateway.core.money_out.refunds_sent import refunds_pass
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, Payout, PayoutState, Refund, RefundState
from gateway.kit.keys import PROVIDERS
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa
from tests.payments.mpesa.test_mpesa_money_out import approved_payout, paid_takings, passes_until_settled


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    """The sandbox's results come in 0.05 s: a result not in by the worker's next look is late."""
    async with live_mpesa(settings.model_copy(update={"mpesa_status_query_after_seconds": 0.0}), sessions) as running:
        yield running


async def test_a_payout_whose_result_is_lost_is_settled_by_the_transaction_status_query(live: LiveMpesa) -> None:
    await paid_takings(live)
    live.control.mpesa_lose_results_next = 1
    payout = await approved_payout(live, 6000)
    assert await passes_until_settled(live, payouts_pass) == ["sent", "pending", "succeeded"]
    async with live.sessions() as session:
        row = await session.get(Payout, payout.id)
    assert row is not None and row.state is PayoutState.SUCCEEDED
    assert row.provider_txn_id and len(row.provider_txn_id) == 10  # the B2C payment's receipt, as the query read it
    assert row.provider_reason is None  # the amount it names is the one asked
    assert (await live.paid_out())["b2c_payments"] == 1


async def refund_of_a_paid_vote(live: LiveMpesa) -> OrderStatus:
    order = await live.settled(await live.vote(quantity=2))
    assert order.status is OrderStatus.PAID and order.provider_txn_id
    await request_refund(live.sessions, live.client.app[PROVIDERS], order.id, "owner@example.org", reason="asked")
    return order.status


async def refund(live: LiveMpesa) -> Refund:
    async with live.sessions() as session:
        return (await session.scalars(select(Refund))).one()


async def test_a_reversal_whose_result_is_lost_is_settled_by_the_transaction_status_query(live: LiveMpesa) -> None:
    live.control.mpesa_lose_results_next = 1
    await refund_of_a_paid_vote(live)
    assert await passes_until_settled(live, refunds_pass) == ["sent", "pending", "succeeded"]
    row = await refund(live)
    assert row.state is RefundState.SUCCEEDED
    assert (await tables.get_order(live.sessions, row.order_id)).status is OrderStatus.REFUNDED
    assert len((await live.paid_out())["reversed_receipts"]) == 1
    assert await live.votes() == 0


async def test_a_reversal_daraja_never_carried_out_nor_told_of_is_sent_again_and_refunds_once(
        live: LiveMpesa) -> None:
    await refund_of_a_paid_vote(live)
    live.control.mpesa_time_out_next = 1  # never carried out: Daraja's queue gave up on it...
    live.control.drop_callbacks = True  # ...and the QueueTimeOutURL was never told either
    first: list[str] = []
    for later in (0, 30, 60):  # owed on one pass, sent on the next
        if not first:
            first += [turn.outcome for turn in await refunds_pass(live.sessions, live.client.app[PROVIDERS],
                                                                  datetime.now(UTC) + timedelta(seconds=later))]
    assert first == ["sent"]
    live.control.drop_callbacks = False
    outcomes = await passes_until_settled(live, refunds_pass)
    assert outcomes == ["pending", "resend", "sent", "succeeded"]  # the query found nothing: sent again
    assert (await refund(live)).state is RefundState.SUCCEEDED
    assert len((await live.paid_out())["reversed_receipts"]) == 1
    assert await live.votes() == 0


async def test_a_payout_whose_answer_was_lost_is_never_sent_again_and_is_settled_by_the_status_query(
        live: LiveMpesa) -> None:
    """Daraja takes a B2C payment in and pays it, but its answer is lost (a 503 from its gateway) and its Result
    never comes: sending it again under the same reference would pay it twice on a Daraja that takes a repeat as a
    new payment (Safaricom does not write down that it does not)."""
    await paid_takings(live)
    live.control.mpesa_lose_answers_next = 1
    live.control.mpesa_lose_results_next = 1
    live.control.mpesa_pays_repeats = True
    payout = await approved_payout(live, 6000)
    outcomes = await passes_until_settled(live, payouts_pass)
    assert outcomes[0] == "retry" and outcomes[-1] == "succeeded" and "resend" not in outcomes, outcomes
    async with live.sessions() as session:
        row = await session.get(Payout, payout.id)
    assert row is not None and row.state is PayoutState.SUCCEEDED
    assert (await live.paid_out())["b2c_payments"] == 1  # paid once



async def test_a_payout_sent_again_after_daraja_gave_up_on_it_is_not_sent_a_third_time_when_that_answer_is_lost(
        live: LiveMpesa) -> None:
    await paid_takings(live)
    live.control.mpesa_time_out_next = 1  # the first never carried out: Daraja's queue says so
    payout = await approved_payout(live, 6000)
    first = [turn.outcome for turn in await payouts_pass(live.sessions, live.client.app[PROVIDERS], datetime.now(UTC))]
    assert first == ["sent"]
    await asyncio.sleep(0.2)  # the queue's time-out notice comes in
    live.control.mpesa_lose_answers_next = 1  # the second carried out, its answer lost...
    live.control.mpesa_lose_results_next = 1  # ...and its Result too
    live.control.mpesa_pays_repeats = True
    outcomes, now = [], datetime.now(UTC)
    for _ in range(8):  # the worker's passes, ten minutes apart: past each wait the turns ask for
        outcomes += [turn.outcome for turn in await payouts_pass(live.sessions, live.client.app[PROVIDERS], now)]
        now += timedelta(minutes=10)
        await asyncio.sleep(0.2)
    assert outcomes[-1] == "succeeded" and outcomes.count("resend") == 1 and "retry" in outcomes, outcomes
    async with live.sessions() as session:
        row = await session.get(Payout, payout.id)
    assert row is not None and row.state is PayoutState.SUCCEEDED
    assert (await live.paid_out())["b2c_payments"] == 1
