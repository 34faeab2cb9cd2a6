"""MTN refunds going out by themselves through the sandbox's Disbursement API: an owner's refund and a rejected held
order are paid back once, under a reference kept before the first call (a crash between the call and its record
sends it again and MTN pays once), the order ends refunded; a refund MTN refuses stays owed, for a person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from assembly.settings import Settings
from gateway.core import holds
from gateway.core.orders import tables
from gateway.core.payments.collections import load_collection
from gateway.core.payments.refunds import request_refund
from gateway.core.payments.refunds_sent import owe_refunds, refunds_pass
from gateway.core.providers import OutgoingRefund
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, Refund, RefundState, VoteOrder
from tests.core.payments.mtn_sandbox import Mtn, mtn_sandbox, paid
from tests.factories import assert_tally_invariant, place, tallies


@pytest.fixture
async def mtn(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Mtn]:
    async with mtn_sandbox(settings, sessions) as wired:
        yield wired


async def passes_until_settled(sessions: Sessions, mtn: Mtn) -> list[str]:
    """The worker's passes, 30 s apart as it runs them, until nothing is due."""
    outcomes, now = [], datetime.now(UTC)
    for _ in range(6):
        outcomes += [turn.outcome for turn in await refunds_pass(sessions, mtn.registry, now)]
        now += timedelta(seconds=30)
        await asyncio.sleep(0.1)  # the sandbox decides after its own (real) success_delay
    return outcomes


async def test_an_owners_refund_of_an_mtn_vote_goes_out_by_itself_once(sessions: Sessions, mtn: Mtn) -> None:
    order = await paid(sessions, mtn)
    balance = await mtn.payouts.balance("XAF")
    outcome = await request_refund(sessions, mtn.registry, order.id, "owner@example.org", reason="voter asked")
    assert outcome.status is OrderStatus.REFUND_REQUESTED and "sends it back by itself" in outcome.message
    assert (await tallies(sessions, mtn.contest.id))["01"] == 0  # the votes left at once
    assert await passes_until_settled(sessions, mtn) == ["sent", "succeeded"]
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.REFUNDED
    assert await mtn.payouts.balance("XAF") == balance - order.amount
    async with sessions() as session:
        [refund] = (await session.scalars(select(Refund))).all()
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.target == str(order.id))))
    assert refund.state is RefundState.SUCCEEDED and refund.provider_txn_id
    assert actions == ["order.refund", "refund.succeeded"]
    await assert_tally_invariant(sessions, mtn.contest.id)


async def test_a_crash_between_the_call_and_its_record_pays_back_once(sessions: Sessions, mtn: Mtn) -> None:
    order = await paid(sessions, mtn)
    balance = await mtn.payouts.balance("XAF")
    await request_refund(sessions, mtn.registry, order.id, "owner@example.org")
    assert await owe_refunds(sessions, mtn.registry) == 1
    async with sessions() as session:
        refund = (await session.scalars(select(Refund))).one()
        loaded = await load_collection(session, order.id)
    assert loaded is not None
    # The worker sent it, then died before writing that it had: the row still says `requested`.
    await mtn.payouts.send_refund(OutgoingRefund(refund.id, loaded[1], refund.amount, refund.currency))
    assert await passes_until_settled(sessions, mtn) == ["sent", "succeeded"]  # sent again: MTN's 409, once
    assert await mtn.payouts.balance("XAF") == balance - order.amount


async def test_a_held_order_rejected_in_review_is_refunded_by_mtn(sessions: Sessions, mtn: Mtn) -> None:
    order = await paid(sessions, mtn, quantity=2)
    async with sessions.begin() as session:  # as a fraud rule holds a paid order (gateway.core.holds)
        await session.execute(update(VoteOrder).where(VoteOrder.id == order.id).values(status=OrderStatus.HELD))
    await holds.reject_held(sessions, order.id, actor="owner@example.org", reason="one of 40 numbers")
    assert await passes_until_settled(sessions, mtn) == ["sent", "succeeded"]
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.REFUNDED


async def test_a_refund_mtn_refuses_stays_owed_for_a_person(sessions: Sessions, mtn: Mtn) -> None:
    never_paid_there = await place(sessions, mtn.contest)  # MTN never took it: nothing of it to refund
    async with sessions.begin() as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == never_paid_there.id)
                              .values(status=OrderStatus.REFUND_REQUESTED))
    assert await passes_until_settled(sessions, mtn) == ["sent", "failed"]
    assert (await tables.get_order(sessions, never_paid_there.id)).status is OrderStatus.REFUND_REQUESTED
    async with sessions() as session:
        refund = (await session.scalars(select(Refund))).one()
        noted = await session.scalar(select(AuditEntry.details).where(AuditEntry.action == "refund.failed"))
    assert refund.state is RefundState.FAILED and noted is not None and noted["reason"] == "RESOURCE_NOT_FOUND"
    assert await passes_until_settled(sessions, mtn) == []  # never sent again by itself
