"""Money that never came in is never in the books and never goes back out: a payment MTN's callback said SUCCESSFUL
and its status call then FAILED (the sandbox's 457 numbers) is flagged and out of the settlement until a person
decides, its refund is refused, and no payout is paid out of payments not verified yet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.errors import Conflict
from gateway.core.fraud import holds
from gateway.core.money_in.verification.by_status import Verified, verify_due
from gateway.core.money_out import payouts, settlements
from gateway.core.money_out.refunds import request_refund
from gateway.core.money_out.refunds_sent import refunds_pass
from gateway.core.orders import tables
from gateway.core.oversight import orders_admin
from gateway.db.engine import Sessions
from gateway.db.models import BANK_ACCOUNT, OrderStatus, Refund, VoteOrder
from tests.core.money_in.mtn_sandbox import Mtn, mtn_sandbox, paid
from tests.factories import assert_tally_invariant, tallies

OWNER = Actor(None, "owner@example.org", "owner")
DENIED = "+237670000457"


def verification_due() -> datetime:
    """When a callback's verification is due (it waits half a minute for the provider's own records)."""
    return datetime.now(UTC) + timedelta(minutes=1)  # the sandbox's callback says SUCCESSFUL, its status call FAILED


@pytest.fixture
async def mtn(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Mtn]:
    async with mtn_sandbox(settings, sessions) as wired:
        yield wired


async def xaf(sessions: Sessions, mtn: Mtn) -> settlements.CurrencyStatement:
    [figures] = (await settlements.settlement(sessions, OWNER, mtn.contest.id)).figures
    return figures


async def test_a_payment_mtn_denied_is_out_of_the_settlement_and_never_refunded(sessions: Sessions, mtn: Mtn) -> None:
    honest = await paid(sessions, mtn, quantity=4)  # 400 XAF, counted on MTN's status
    denied = await paid(sessions, mtn, quantity=2, msisdn=DENIED, verify_later=True)  # 200 XAF on the callback
    assert (await xaf(sessions, mtn)).gross == 600  # counted for now, on the callback's word
    assert await verify_due(sessions, mtn.registry, now=verification_due()) == [(denied.id, Verified.DISAGREED)]
    assert (await tables.get_order(sessions, denied.id)).status is OrderStatus.FLAGGED
    money = await xaf(sessions, mtn)
    assert (money.gross, money.net, money.balance) == (honest.amount, honest.amount, honest.amount)

    [item] = [i for i in await orders_admin.waiting_reviews(sessions) if i.order_id == denied.id]
    with pytest.raises(Conflict, match="says the payment is FAILED: no money came in"):
        await orders_admin.decide(sessions, mtn.registry, OWNER, denied.id, item.kind.value, "refund", "give it back")
    assert (await tables.get_order(sessions, denied.id)).status is OrderStatus.FLAGGED
    assert await refunds_pass(sessions, mtn.registry, item.noted_at) == []  # nothing owed, nothing sent
    async with sessions() as session:
        assert (await session.scalars(select(Refund))).all() == []

    await orders_admin.decide(sessions, mtn.registry, OWNER, denied.id, item.kind.value, "dismiss", "never paid")
    assert [i for i in await orders_admin.waiting_reviews(sessions) if i.order_id == denied.id] == []
    assert (await xaf(sessions, mtn)).gross == honest.amount  # dismissed: still out of the books
    assert (await tallies(sessions, mtn.contest.id))["01"] == 4
    await assert_tally_invariant(sessions, mtn.contest.id)


async def test_an_owners_refund_waits_for_mtn_to_confirm_the_money(sessions: Sessions, mtn: Mtn) -> None:
    denied = await paid(sessions, mtn, quantity=2, msisdn=DENIED, verify_later=True)
    with pytest.raises(Conflict, match="no money came in"):  # not verified yet: MTN is asked now, and says FAILED
        await request_refund(sessions, mtn.registry, denied.id, OWNER.email, reason="voter asked")
    assert (await tables.get_order(sessions, denied.id)).status is OrderStatus.PAID  # nothing changed
    confirmed = await paid(sessions, mtn, quantity=1, verify_later=True)
    outcome = await request_refund(sessions, mtn.registry, confirmed.id, OWNER.email, reason="voter asked")
    assert outcome.status is OrderStatus.REFUND_REQUESTED  # MTN confirms this one: it goes back


async def test_no_payout_is_paid_out_of_payments_not_verified_yet(sessions: Sessions, mtn: Mtn) -> None:
    await paid(sessions, mtn, quantity=10)  # 1,000 XAF on MTN's status
    await paid(sessions, mtn, quantity=8, msisdn=DENIED, verify_later=True)  # 800 XAF on a callback, unverified
    await payouts.set_account(sessions, OWNER, mtn.contest.id, payouts.AccountDraft(
        BANK_ACCOUNT, "Ada Organiser SARL", bank_details="Afriland First Bank, 10005 00001 0123456789"))
    money = await xaf(sessions, mtn)
    assert (money.balance, money.unverified, money.payable) == (1800, 800, 1000)
    with pytest.raises(Conflict, match="The balance is 1000 XAF"):
        await payouts.request_payout(sessions, OWNER, mtn.contest.id, "XAF", 1800)
    await verify_due(sessions, mtn.registry, now=verification_due())  # MTN denies it: the 800 leave the books
    money = await xaf(sessions, mtn)
    assert (money.balance, money.unverified, money.payable) == (1000, 0, 1000)


async def test_no_payout_is_paid_out_of_orders_held_for_review(sessions: Sessions, mtn: Mtn) -> None:
    await paid(sessions, mtn, quantity=10)  # 1,000 XAF, verified
    held = await paid(sessions, mtn, quantity=2, msisdn="+237670000002")  # 200 XAF, verified, then held
    async with sessions.begin() as session:  # as a fraud rule holds a paid order (gateway.core.fraud.holds)
        await session.execute(update(VoteOrder).where(VoteOrder.id == held.id).values(status=OrderStatus.HELD))
    await payouts.set_account(sessions, OWNER, mtn.contest.id, payouts.AccountDraft(
        BANK_ACCOUNT, "Ada Organiser SARL", bank_details="Afriland First Bank, 10005 00001 0123456789"))
    money = await xaf(sessions, mtn)
    assert (money.balance, money.held, money.payable) == (1200, 200, 1000)
    with pytest.raises(Conflict, match="The balance is 1000 XAF"):  # the 200 may go back to the payer
        await payouts.request_payout(sessions, OWNER, mtn.contest.id, "XAF", 1200)
    await holds.reject_held(sessions, held.id, actor="owner@example.org", reason="one of 40 numbers")
    money = await xaf(sessions, mtn)
    assert (money.balance, money.held, money.payable) == (1000, 0, 1000)


async def test_a_refund_decided_while_another_person_counts_the_order_leaves_its_votes_and_money(
        sessions: Sessions, mtn: Mtn) -> None:
    held = await paid(sessions, mtn, quantity=2, msisdn="+237670000002")
    async with sessions.begin() as session:  # as a fraud rule holds a paid order
        await session.execute(update(VoteOrder).where(VoteOrder.id == held.id).values(status=OrderStatus.HELD))
    [item] = [i for i in await orders_admin.waiting_reviews(sessions) if i.order_id == held.id]
    async with sessions.begin() as other:  # another person's decision on the same order, under its lock
        await other.execute(select(VoteOrder.id).where(VoteOrder.id == held.id).with_for_update())
        refusing = asyncio.ensure_future(orders_admin.decide(sessions, mtn.registry, OWNER, held.id, item.kind.value,
                                                             "refund", "one of 40 numbers"))
        async with asyncio.timeout(60):  # the refund has asked MTN and waits for the order's lock
            while not await waiting_for_a_lock(sessions):
                assert not refusing.done(), refusing
                await asyncio.sleep(0.05)
        await other.execute(update(VoteOrder).where(VoteOrder.id == held.id).values(status=OrderStatus.PAID))
    with pytest.raises(Conflict, match="changed meanwhile"):
        await refusing
    assert (await tables.get_order(sessions, held.id)).status is OrderStatus.PAID  # counted, not given back too


async def waiting_for_a_lock(sessions: Sessions) -> bool:
    async with sessions() as session:
        waiting = await session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))
    return bool(waiting)
