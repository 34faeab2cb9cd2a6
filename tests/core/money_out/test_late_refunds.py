"""Late payments given back by themselves, through MTN's sandbox: a payment confirmed after the lines closed and the
contest's grace is refunded by MTN's Disbursement (the sandbox pays it back once), never counted; a replayed callback
changes nothing; money MTN never took is not given back but flagged for a person. And no vote is taken once the lines
closed: a start that comes after the close never prompts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from assembly.settings import Settings
from channels.phone.receipt_texts import readable
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.starting import start_payment
from gateway.core.money_out import settlements
from gateway.core.money_out.late_refunds import refund_late_orders
from gateway.core.orders import counting, tables
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.core.providers import CollectionNotFound, PaymentState
from gateway.core.texts import Lang
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, OrderStatus, OutboxMessage, Refund, RefundState, VoteOrder
from tests.channel_names import Channel
from tests.core.money_in.mtn_sandbox import Mtn, mtn_sandbox
from tests.core.money_out.test_refunds_sent import passes_until_settled
from tests.factories import assert_tally_invariant, place, tallies
from tests.payments import poll


@pytest.fixture
async def mtn(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Mtn]:
    async with mtn_sandbox(settings, sessions) as wired:
        closes_at = datetime.now(UTC) + timedelta(seconds=5)  # its votes are placed just before the close
        async with sessions.begin() as session:
            await session.execute(update(Contest).where(Contest.id == wired.contest.id).values(closes_at=closes_at))
        wired.contest.closes_at = closes_at
        yield wired


async def prompted_and_approved(sessions: Sessions, mtn: Mtn, quantity: int = 2) -> VoteOrder:
    order = await place(sessions, mtn.contest, quantity=quantity, channel=Channel.SMS)
    await start_payment(sessions, mtn.registry, order.id)
    async with sessions() as session:
        loaded = await load_collection(session, order.id)
    assert loaded is not None
    await poll(lambda: mtn.registry.get("mtn").fetch_status(loaded[1]), lambda s: s.state is PaymentState.SUCCESSFUL)
    return order


async def callback_at(sessions: Sessions, order: VoteOrder, at: datetime) -> ConfirmOutcome:
    """MTN's callback on the order's secret URL, as it counts (`verify_later`), arriving at `at`."""
    return await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "mtn-txn",
                                          provider="mtn", verify_later=True, now=at)


async def test_a_payment_inside_the_grace_counts(sessions: Sessions, mtn: Mtn) -> None:
    order = await prompted_and_approved(sessions, mtn)
    assert await callback_at(sessions, order, mtn.contest.closes_at + timedelta(seconds=299)) is ConfirmOutcome.COUNTED
    assert (await tallies(sessions, mtn.contest.id))["01"] == 2
    assert await refund_late_orders(sessions, mtn.registry, datetime.now(UTC) + timedelta(hours=1)) == []


async def test_a_payment_after_the_grace_is_refunded_by_mtn_once_and_never_counted(sessions: Sessions,
                                                                                    mtn: Mtn) -> None:
    order = await prompted_and_approved(sessions, mtn)
    confirmed = mtn.contest.closes_at + timedelta(seconds=301)
    assert await callback_at(sessions, order, confirmed) is ConfirmOutcome.LATE
    balance = await mtn.payouts.balance("XAF")
    async with sessions() as session:  # the organiser's books: the money came in and is owed back, nothing to pay out
        [books] = await settlements.figures_of(session, mtn.contest)
    assert (books.gross, books.refunds) == (order.amount, order.amount)
    # Not before the provider's records caught up with its word; then once, whatever passes run.
    assert await refund_late_orders(sessions, mtn.registry, confirmed + timedelta(seconds=10)) == []
    later = confirmed + timedelta(seconds=31)
    assert await refund_late_orders(sessions, mtn.registry, later) == [f"{order.id}: refund_requested"]
    assert await refund_late_orders(sessions, mtn.registry, later) == []
    assert await passes_until_settled(sessions, mtn) == ["sent", "succeeded"]
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.REFUNDED
    assert await mtn.payouts.balance("XAF") == balance - order.amount  # the sandbox paid the voter back
    async with sessions() as session:
        [refund] = (await session.scalars(select(Refund))).all()
        why = await session.scalar(select(AuditEntry.details).where(AuditEntry.action == "order.refund"))
    assert refund.state is RefundState.SUCCEEDED and refund.amount == order.amount
    assert why is not None and why["reason"] == "paid after the lines closed and their grace"
    # MTN's callback again: nothing moves, nothing is sent again.
    assert await callback_at(sessions, order, later) is ConfirmOutcome.ALREADY_DECIDED
    assert await passes_until_settled(sessions, mtn) == []
    assert (await tallies(sessions, mtn.contest.id))["01"] == 0
    await assert_tally_invariant(sessions, mtn.contest.id)


async def test_a_late_word_for_money_mtn_never_took_gives_nothing_back(sessions: Sessions, mtn: Mtn) -> None:
    """Nothing is given back that never came in: MTN has no such payment, so a person looks."""
    order = await place(sessions, mtn.contest)  # never prompted: MTN took nothing
    confirmed = mtn.contest.closes_at + timedelta(minutes=6)
    assert await callback_at(sessions, order, confirmed) is ConfirmOutcome.LATE
    assert await refund_late_orders(sessions, mtn.registry, confirmed + timedelta(minutes=1)) == [
        f"{order.id}: flagged"]
    flagged = await tables.get_order(sessions, order.id)
    assert flagged.status is OrderStatus.FLAGGED and "not refunded" in (flagged.status_reason or "")
    assert await passes_until_settled(sessions, mtn) == []


async def test_a_start_after_the_lines_closed_never_prompts_and_the_voter_is_told(sessions: Sessions,
                                                                                  mtn: Mtn) -> None:
    order = await place(sessions, mtn.contest, channel=Channel.SMS)  # placed while open; its start is late
    async with sessions.begin() as session:  # the lines close before its start (an on-air close)
        await session.execute(update(Contest).where(Contest.id == mtn.contest.id)
                              .values(closes_at=datetime.now(UTC) - timedelta(seconds=1)))
    started = await start_payment(sessions, mtn.registry, order.id)
    assert started is not None and started.status is OrderStatus.FAILED
    failed = await tables.get_order(sessions, order.id)
    assert failed.status is OrderStatus.FAILED and failed.payment_started_at is None
    assert failed.status_reason is not None and "LINES_CLOSED" in failed.status_reason
    async with sessions() as session:
        loaded = await load_collection(session, order.id)
        topics = list(await session.scalars(select(OutboxMessage.topic)))
    assert loaded is not None
    with pytest.raises(CollectionNotFound):  # MTN never heard of it: no prompt reached the phone
        await mtn.registry.get("mtn").fetch_status(loaded[1])
    assert "order.failed" in topics  # the voter's receipt says why, in their words
    assert readable(Lang.EN, failed.status_reason) == "The lines had closed: no payment was asked."
    assert readable(Lang.FR, failed.status_reason) == "Les lignes étaient fermées : aucun paiement demandé."
