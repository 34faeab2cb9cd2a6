"""MTN refunds going out by themselves through the sandbox's Disbursement API: an owner's refund and a rejected held
order are paid back once, under a reference kept before the first call (a crash between the call and its record
sends it again and MTN pays once), the order ends refunded; a refund MTN refuses stays owed, for a person; one MTN
paid for another amount is done all the same, the difference shown for a person, never sent again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.errors import Conflict, NotFound
from gateway.core.fraud import holds
from gateway.core.money_in.collections import load_collection
from gateway.core.money_out.money_reconciliation import reconcile_money
from gateway.core.money_out.refunds import request_refund
from gateway.core.money_out.refunds_sent import owe_refunds, refunds_pass
from gateway.core.orders import tables
from gateway.core.oversight import orders_admin
from gateway.core.providers import OutgoingRefund, PaymentProvider
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, Refund, RefundState, VoteOrder
from tests.core.money_in.mtn_sandbox import Mtn, mtn_sandbox, paid
from tests.factories import assert_tally_invariant, place, tallies
from tests.payments import poll


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
        # In the order they were written: a scan returns rows in the heap's order, and a later row may fill the
        # space of rows an earlier test's emptying deleted.
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.target == str(order.id))
                                             .order_by(AuditEntry.id)))
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
    async with sessions.begin() as session:  # as a fraud rule holds a paid order (gateway.core.fraud.holds)
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


OWNER = Actor(None, "owner@example.org", "owner")


async def test_a_refund_mtn_paid_for_another_amount_is_done_and_never_sent_again(sessions: Sessions,
                                                                                 mtn: Mtn) -> None:
    """The payer got money back: sending the refund again could pay them twice. The difference waits for a person
    on the refund, as a payout's does."""
    order = await paid(sessions, mtn)
    await request_refund(sessions, mtn.registry, order.id, OWNER.email, reason="voter asked")
    assert await owe_refunds(sessions, mtn.registry) == 1
    assert [turn.outcome for turn in await refunds_pass(sessions, mtn.registry, datetime.now(UTC))] == ["sent"]
    async with sessions() as session:
        reference = (await session.scalars(select(Refund.id))).one()
    async with httpx.AsyncClient() as http:  # MTN's records now say less went back than was owed
        edited = await http.post(f"{mtn.url}/mtn/_control/transactions/{reference}", json={"amount": "250"})
    assert edited.status_code == 200
    assert await passes_until_settled(sessions, mtn) == ["succeeded"]
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.REFUNDED  # as any refund paid
    assert (await tallies(sessions, mtn.contest.id))["01"] == 0
    async with sessions() as session:
        refund = await session.get_one(Refund, reference)
        noted = (await session.execute(select(AuditEntry.action, AuditEntry.details)
                                       .where(AuditEntry.target == str(order.id)).order_by(AuditEntry.id))).all()
    differs = f"the provider refunded 250 XAF, {order.amount} were owed"
    assert refund.state is RefundState.SUCCEEDED and refund.provider_txn_id and refund.provider_reason == differs
    assert [action for action, _ in noted] == ["order.refund", "refund.amount_differs"]
    assert noted[-1][1]["reason"] == differs
    assert await orders_admin.waiting_reviews(sessions) == []  # nothing offers to send it again
    with pytest.raises(NotFound):
        await orders_admin.decide(sessions, mtn.registry, OWNER, order.id, "refund_failed", "send_again", "again")
    assert await passes_until_settled(sessions, mtn) == [] and await owe_refunds(sessions, mtn.registry) == 0
    await assert_tally_invariant(sessions, mtn.contest.id)
    day = await reconcile_money(sessions, mtn.registry, "mtn", datetime.now(UTC).date(), no_pace)
    assert [(gap.what, gap.entry.kind, gap.entry.key) for gap in day.differences] == [("amount", "refund", reference)]


async def no_pace(provider: PaymentProvider) -> None:
    return None


WAITING_ON_AN_ORDER = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock' AND query LIKE '%FROM vote_orders%FOR UPDATE%'")


async def waiting_on_an_order(sessions: Sessions) -> int:
    async with sessions() as session:  # a transaction of its own: pg_stat_activity is read once per transaction
        return int(await session.scalar(WAITING_ON_AN_ORDER) or 0)


async def test_no_refund_by_hand_while_mtns_own_is_under_way(sessions: Sessions, mtn: Mtn, engine: AsyncEngine
                                                              ) -> None:
    """The payer is paid back once: "refunded by hand" is refused while MTN's refund of the order is on its way,
    even when the worker owes it to MTN between the queue's listing and the person's click."""
    order = await paid(sessions, mtn)
    await request_refund(sessions, mtn.registry, order.id, OWNER.email, reason="voter asked")
    [item] = await orders_admin.waiting_reviews(sessions)  # owed, nothing sent yet
    async with engine.connect() as worker:  # the refunds pass, owing it under the order's lock
        await worker.execute(select(VoteOrder.id).where(VoteOrder.id == order.id).with_for_update())
        by_hand = asyncio.ensure_future(orders_admin.decide(
            sessions, mtn.registry, OWNER, order.id, item.kind.value, "refunded_by_hand", "sent by MoMo"))
        await poll(lambda: waiting_on_an_order(sessions), lambda waiting: waiting == 1)
        await worker.execute(insert(Refund).values(id=uuid.uuid4(), order_id=order.id, provider="mtn",
                                                   amount=order.amount, currency=order.currency,
                                                   reason="refund requested", requested_by="system"))
        await worker.commit()
        with pytest.raises(Conflict, match="gives the money back by itself"):
            await by_hand
    assert await orders_admin.waiting_reviews(sessions) == []  # under way: nothing for a person
    assert await passes_until_settled(sessions, mtn) == ["sent", "succeeded"]
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.REFUNDED


async def test_a_refund_mtn_refused_shows_why_and_is_sent_again(sessions: Sessions, mtn: Mtn) -> None:
    never_paid_there = await place(sessions, mtn.contest)  # MTN refuses its refund: RESOURCE_NOT_FOUND
    async with sessions.begin() as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == never_paid_there.id)
                              .values(status=OrderStatus.REFUND_REQUESTED))
    assert await passes_until_settled(sessions, mtn) == ["sent", "failed"]
    [item] = await orders_admin.waiting_reviews(sessions)
    assert item.kind.value == "refund_failed" and "refused the refund" in item.reason
    assert "RESOURCE_NOT_FOUND" in item.reason and orders_admin.DECISIONS[item.kind] == ("send_again",
                                                                                         "refunded_by_hand")
    assert (await tables.get_order(sessions, never_paid_there.id)).status_reason == (
        "mtn refused the refund: RESOURCE_NOT_FOUND")  # its page no longer says "sends it back by itself"
    await orders_admin.decide(sessions, mtn.registry, OWNER, never_paid_there.id, item.kind.value, "send_again",
                              "MTN says try again")
    assert await orders_admin.waiting_reviews(sessions) == []
    assert await passes_until_settled(sessions, mtn) == ["sent", "failed"]  # a new reference, sent once
    async with sessions() as session:
        refunds = (await session.scalars(select(Refund).order_by(Refund.created_at))).all()
    assert [r.state for r in refunds] == [RefundState.FAILED, RefundState.FAILED] and refunds[0].id != refunds[1].id
    [item] = await orders_admin.waiting_reviews(sessions)  # refused again: back for a person
    await orders_admin.decide(sessions, mtn.registry, OWNER, never_paid_there.id, item.kind.value,
                              "refunded_by_hand", "paid back from the MoMo portal")
    assert (await tables.get_order(sessions, never_paid_there.id)).status is OrderStatus.REFUNDED


async def test_a_refund_refused_twice_and_sent_again_twice_waits_for_nobody(sessions: Sessions, mtn: Mtn) -> None:
    never_paid_there = await place(sessions, mtn.contest)  # MTN refuses each of its refunds
    async with sessions.begin() as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == never_paid_there.id)
                              .values(status=OrderStatus.REFUND_REQUESTED))
    for _ in range(2):
        assert await passes_until_settled(sessions, mtn) == ["sent", "failed"]
        [item] = await orders_admin.waiting_reviews(sessions)
        await orders_admin.decide(sessions, mtn.registry, OWNER, never_paid_there.id, item.kind.value, "send_again",
                                  "MTN says try again")
    assert await orders_admin.waiting_reviews(sessions) == []  # the second refusal is decided


async def test_the_worker_owes_nothing_for_an_order_a_person_is_marking_refunded(sessions: Sessions, mtn: Mtn,
                                                                                 engine: AsyncEngine) -> None:
    order = await paid(sessions, mtn)
    await request_refund(sessions, mtn.registry, order.id, OWNER.email, reason="voter asked")
    async with engine.connect() as person:  # "refunded by hand", under the order's lock, not committed yet
        await person.execute(select(VoteOrder.id).where(VoteOrder.id == order.id).with_for_update())
        await person.execute(update(VoteOrder).where(VoteOrder.id == order.id).values(status=OrderStatus.REFUNDED))
        owing = asyncio.ensure_future(owe_refunds(sessions, mtn.registry))
        await asyncio.wait([owing], timeout=1)
        await person.commit()
        assert await owing == 0
    assert await owe_refunds(sessions, mtn.registry) == 0 and await passes_until_settled(sessions, mtn) == []
