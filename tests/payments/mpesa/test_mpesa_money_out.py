"""M-Pesa's money out end to end, our app and the Daraja sandbox speaking over localhost: a refund goes back by a
Reversal of the vote's receipt, once, also when Daraja's queue timed it out and it was sent again under its
reference; a payout by B2C is settled by its result, also when that result comes on the time-out URL, and a payout
sent twice under one reference is paid once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.money_in.verification.by_status import Verified, verify_due
from gateway.core.money_out import payouts
from gateway.core.money_out.payouts_sent import outgoing, payouts_pass
from gateway.core.money_out.refunds import request_refund
from gateway.core.money_out.refunds_sent import refunds_pass
from gateway.core.money_out.transfers import Turn
from gateway.core.orders import tables
from gateway.core.providers import Providers
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, Payout, PayoutState, Refund, RefundState
from gateway.kit.keys import PROVIDERS
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa

ORGANISER = Actor(None, "organiser@example.org", "owner")
APPROVER = Actor(None, "approver@example.org", "owner")
WALLET = "+254712000123"
Pass = Callable[[Sessions, Providers, datetime], Awaitable[list[Turn]]]


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        yield running


async def passes_until_settled(live: LiveMpesa, run: Pass) -> list[str]:
    """The worker's passes, 30 s apart as it runs them, until nothing is due."""
    outcomes, now = [], datetime.now(UTC)
    for _ in range(8):
        outcomes += [turn.outcome for turn in await run(live.sessions, live.client.app[PROVIDERS], now)]
        now += timedelta(seconds=30)
        await asyncio.sleep(0.2)  # the sandbox posts its result after its own (real) success_delay
    return outcomes


async def refunded_vote(live: LiveMpesa) -> tuple[OrderStatus, RefundState, list[str]]:
    order = await live.settled(await live.vote(quantity=2))
    assert order.status is OrderStatus.PAID and order.provider_txn_id
    await request_refund(live.sessions, live.client.app[PROVIDERS], order.id, "owner@example.org", reason="asked")
    outcomes = await passes_until_settled(live, refunds_pass)
    async with live.sessions() as session:
        refund = (await session.scalars(select(Refund))).one()
    return (await tables.get_order(live.sessions, order.id)).status, refund.state, outcomes


async def test_a_refund_goes_back_by_a_reversal_of_the_votes_receipt_once(live: LiveMpesa) -> None:
    status, state, outcomes = await refunded_vote(live)
    assert (status, state) == (OrderStatus.REFUNDED, RefundState.SUCCEEDED)
    assert outcomes == ["sent", "succeeded"]
    assert len((await live.paid_out())["reversed_receipts"]) == 1
    assert await live.votes() == 0


async def test_a_reversal_timed_out_in_daraja_queue_is_sent_again_and_refunds_once(live: LiveMpesa) -> None:
    live.control.mpesa_time_out_next = 1  # the first reversal is never carried out: its QueueTimeOutURL is told
    status, state, outcomes = await refunded_vote(live)
    assert (status, state) == (OrderStatus.REFUNDED, RefundState.SUCCEEDED)
    assert outcomes.count("sent") == 2 and outcomes[-1] == "succeeded"
    assert len((await live.paid_out())["reversed_receipts"]) == 1


async def paid_takings(live: LiveMpesa) -> None:
    """Votes paid by M-Pesa, and the organiser's M-Pesa wallet for the payouts."""
    order = await live.settled(await live.vote(quantity=10))
    assert order.status is OrderStatus.PAID
    later = datetime.now(UTC) + timedelta(hours=1)  # counted from its callback: the query verifies it first
    assert await verify_due(live.sessions, live.client.app[PROVIDERS], now=later) == [(order.id, Verified.AGREED)]
    await payouts.set_account(live.sessions, ORGANISER, live.contest.id, payouts.AccountDraft(
        "mpesa", "Wanjiku Organiser", msisdn=WALLET, proven=True))


async def approved_payout(live: LiveMpesa, amount: int) -> Payout:
    payout = await payouts.request_payout(live.sessions, ORGANISER, live.contest.id, "KES", amount)
    await payouts.approve_payout(live.sessions, live.client.app[PROVIDERS], APPROVER, payout.contest_id, payout.id)
    return payout


async def payout_state(live: LiveMpesa, payout: Payout) -> PayoutState:
    async with live.sessions() as session:
        row = await session.get(Payout, payout.id)
    assert row is not None
    return row.state


async def test_a_payout_whose_result_comes_on_the_time_out_url_is_settled_by_it(live: LiveMpesa) -> None:
    await paid_takings(live)
    live.control.mpesa_results_on_time_out_url = True
    payout = await approved_payout(live, 6000)
    assert await passes_until_settled(live, payouts_pass) == ["sent", "succeeded"]
    assert await payout_state(live, payout) is PayoutState.SUCCEEDED
    assert (await live.paid_out())["b2c_payments"] == 1


async def test_a_payout_sent_twice_under_one_reference_is_paid_once(live: LiveMpesa) -> None:
    await paid_takings(live)
    payout = await approved_payout(live, 5000)
    async with live.sessions() as session:
        row = await session.get(Payout, payout.id)
    assert row is not None
    sender = live.client.app[PROVIDERS].payout_sender("mpesa")
    assert sender is not None
    await sender.send_payout(await outgoing(live.sessions, row))  # sent, then the worker died before its record
    assert await passes_until_settled(live, payouts_pass) == ["sent", "succeeded"]
    assert await payout_state(live, payout) is PayoutState.SUCCEEDED
    assert (await live.paid_out())["b2c_payments"] == 1


async def test_a_result_on_a_wrong_secret_or_for_no_transfer_of_ours_changes_nothing(live: LiveMpesa) -> None:
    live.control.success_delay = 0.5  # the genuine result comes after the forgeries
    order = await live.settled(await live.vote(quantity=2))
    await request_refund(live.sessions, live.client.app[PROVIDERS], order.id, "owner@example.org", reason="asked")
    sent: list[str] = []
    for later in (0, 30, 60):  # owed on one pass, sent on the next
        if not sent:
            sent += [turn.outcome for turn in await refunds_pass(live.sessions, live.client.app[PROVIDERS],
                                                                 datetime.now(UTC) + timedelta(seconds=later))]
    assert sent == ["sent"]
    async with live.sessions() as session:
        refund = (await session.scalars(select(Refund))).one()
    forged = {"Result": {"ResultType": 0, "ResultCode": 2001, "ResultDesc": "The initiator information is invalid.",
                         "OriginatorConversationID": "x", "ConversationID": "y", "TransactionID": "FORGED0001"}}
    wrong = await live.client.post(f"/payments/mpesa/result/{refund.id}?key=not-the-secret", json=forged)
    stranger = uuid.uuid4()
    unknown = await live.client.post(live.callback_path(stranger).replace(f"callback/{stranger}",
                                                                          f"result/{stranger}"), json=forged)
    assert (wrong.status, unknown.status) == (400, 404)
    await asyncio.sleep(0.6)
    outcomes = await passes_until_settled(live, refunds_pass)
    assert outcomes[-1] == "succeeded" and "failed" not in outcomes  # Daraja's own result, not the forgery
    assert (await tables.get_order(live.sessions, order.id)).status is OrderStatus.REFUNDED
