"""The vote core: orders are placed here and counted here, once, inside one transaction each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.database import autocommit
from gateway.errors import NotFound, RateLimited, VoteRejected
from gateway.models import (
    AuditEntry,
    BlockedMsisdn,
    Candidate,
    Channel,
    Contest,
    OrderStatus,
    OutboxMessage,
    Tally,
    VoteOrder,
)
from gateway.rules import ContestTerms, check_order, late_success_status

Sessions = async_sessionmaker[AsyncSession]


class ConfirmOutcome(StrEnum):
    COUNTED = "counted"  # this call moved the order to paid and counted its votes
    ALREADY_DECIDED = "already_decided"  # someone else decided first: nothing changed
    FLAGGED = "flagged"  # money moved but the vote was not counted (mismatch, or late)
    DUPLICATE_PAYMENT = "duplicate_payment"  # a second, different transaction for a paid order: refund it


@dataclass(frozen=True)
class OrderRequest:
    contest_slug: str
    candidate_code: str
    quantity: int
    provider: str
    channel: Channel
    msisdn: str | None = None
    voter_ref: str | None = None
    client_key: str | None = None


def contest_terms(contest: Contest) -> ContestTerms:
    return ContestTerms(
        status=contest.status,
        opens_at=contest.opens_at,
        closes_at=contest.closes_at,
        price_per_vote=contest.price_per_vote,
        currency=contest.currency,
        max_votes_per_order=contest.max_votes_per_order,
        providers=tuple(contest.providers),
    )


async def place_order(sessions: Sessions, request: OrderRequest, *, pending_ttl: timedelta) -> VoteOrder:
    """Create a pending order (or return the one already made for the same `client_key`)."""
    if request.client_key:
        existing = await find_by_client_key(sessions, request.client_key)
        if existing is not None:
            return existing
    async with sessions.begin() as session:
        found = (await session.execute(
            select(Contest, Candidate)
            .outerjoin(Candidate, (Candidate.contest_id == Contest.id) & (Candidate.code == request.candidate_code))
            .where(Contest.slug == request.contest_slug)
        )).one_or_none()
        if found is None:
            raise NotFound(f"No contest is called {request.contest_slug!r}.", code="contest_not_found")
        contest, candidate = found
        now = datetime.now(UTC)
        checked = check_order(
            contest_terms(contest), candidate.status if candidate else None, request.candidate_code,
            request.quantity, request.provider, request.msisdn, now,
        )
        assert candidate is not None  # check_order rejects a missing candidate
        if checked.msisdn:
            await check_payer_allowed(session, contest, checked.msisdn, now)
        order = VoteOrder(
            id=uuid.uuid4(), payment_reference=uuid.uuid4(), client_key=request.client_key,
            contest_id=contest.id, candidate_id=candidate.id, quantity=checked.quantity,
            amount=checked.amount, currency=checked.currency, channel=request.channel,
            provider=checked.provider, voter_msisdn=checked.msisdn, voter_ref=request.voter_ref,
            status=OrderStatus.PENDING, expires_at=now + pending_ttl, provider_data={},
        )
        session.add(order)
        try:
            await session.flush()
        except IntegrityError:
            # A concurrent replay with the same client_key won the race: answer with its order.
            await session.rollback()
            existing = await find_by_client_key(sessions, request.client_key or "")
            if existing is None:
                raise
            return existing
    return order


async def check_payer_allowed(session: AsyncSession, contest: Contest, msisdn: str, now: datetime) -> None:
    """Blocked numbers and per-number order limits, counted exactly: one payer's orders queue on a lock."""
    # The lock is its own statement: a statement's snapshot is taken before it waits for a lock.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"payer:{msisdn}"))))
    limits = [(limit, window, label) for limit, window, label in (
        (contest.max_orders_per_minute, timedelta(minutes=1), "a minute"),
        (contest.max_orders_per_day, timedelta(days=1), "a day")) if limit]
    mine = select(func.count()).where(VoteOrder.voter_msisdn == msisdn, VoteOrder.contest_id == contest.id)
    blocked, *counts = (await session.execute(select(
        select(BlockedMsisdn.msisdn).where(BlockedMsisdn.msisdn == msisdn).exists(),
        *(mine.where(VoteOrder.created_at > now - window).scalar_subquery() for _, window, _ in limits),
    ))).one()
    if blocked:
        raise VoteRejected("This number cannot vote. Contact the organiser if you think this is a mistake.",
                           code="msisdn_blocked", field="msisdn")
    for (limit, _, label), count in zip(limits, counts, strict=True):
        if count >= limit:
            raise RateLimited(f"Too many votes from this number ({limit} in {label}). Please try again later.",
                              field="msisdn")


async def find_by_client_key(sessions: Sessions, client_key: str) -> VoteOrder | None:
    async with autocommit(sessions) as session:
        return await session.scalar(select(VoteOrder).where(VoteOrder.client_key == client_key))


async def get_order(sessions: Sessions, order_id: uuid.UUID) -> VoteOrder:
    async with autocommit(sessions) as session:
        order = await session.get(VoteOrder, order_id)
    if order is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    return order


async def confirm_payment(
    sessions: Sessions,
    order_id: uuid.UUID,
    provider_status: str,
    amount: int,
    currency: str,
    provider_txn_id: str | None,
) -> ConfirmOutcome:
    """Count a provider-confirmed payment exactly once: pending → paid, tally, outbox, one commit."""
    async with autocommit(sessions) as session:
        # One statement, committed on its own: the tally row (every vote for a candidate meets
        # there) is locked only while PostgreSQL runs it, never across a round trip to us.
        counted = await session.scalar(counting_statement(order_id, provider_status, amount, currency,
                                                          provider_txn_id))
    if counted is not None:
        return ConfirmOutcome.COUNTED
    async with sessions.begin() as session:
        return await _confirm_not_pending(session, order_id, provider_status, amount, currency, provider_txn_id)


def counting_statement(order_id: uuid.UUID, provider_status: str, amount: int, currency: str,
                       provider_txn_id: str | None) -> Select[tuple[int]]:
    """The guarded pending → paid update, the tally increment and the outbox row as one statement."""
    paid = (
        update(VoteOrder)
        .where(
            VoteOrder.id == order_id,
            VoteOrder.status == OrderStatus.PENDING,  # the guard that makes this idempotent
            VoteOrder.amount == amount,
            VoteOrder.currency == currency.upper(),
        )
        .values(status=OrderStatus.PAID, provider_txn_id=provider_txn_id, decided_at=func.now(),
                status_reason=provider_status)
        .returning(VoteOrder.contest_id, VoteOrder.candidate_id, VoteOrder.quantity)
        .cte("paid")
    )
    tally = pg_insert(Tally).from_select(
        ["candidate_id", "contest_id", "votes"], select(paid.c.candidate_id, paid.c.contest_id, paid.c.quantity))
    counted = tally.on_conflict_do_update(
        index_elements=[Tally.candidate_id],
        set_={"votes": Tally.votes + tally.excluded.votes, "updated_at": func.now()},
    ).cte("counted")
    queued = insert(OutboxMessage).from_select(
        ["topic", "payload"],
        select(literal("vote.confirmed"),
               func.jsonb_build_object("order_id", str(order_id), "contest_id", paid.c.contest_id)),
    ).cte("queued")
    return select(paid.c.contest_id).add_cte(counted, queued)


async def _confirm_not_pending(
    session: AsyncSession, order_id: uuid.UUID, provider_status: str, amount: int, currency: str,
    provider_txn_id: str | None,
) -> ConfirmOutcome:
    """The guarded update matched nothing: find out why, and flag what needs a person."""
    order = await session.get(VoteOrder, order_id, with_for_update=True)
    if order is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    if order.status is OrderStatus.PENDING:
        reason = (f"amount mismatch: provider reported {amount} {currency.upper()}, "
                  f"order is {order.amount} {order.currency}")
    elif is_second_charge(order, provider_txn_id):
        await record_second_charge(session, order, provider_txn_id, amount, currency)
        return ConfirmOutcome.DUPLICATE_PAYMENT
    elif late_success_status(order.status) is None:
        return ConfirmOutcome.ALREADY_DECIDED
    else:
        reason = f"provider reported success ({provider_status}) after the order was {order.status.value}"
    order.status = OrderStatus.FLAGGED
    order.status_reason = reason
    order.provider_txn_id = provider_txn_id
    order.decided_at = datetime.now(UTC)
    await _emit(session, "order.flagged", order_id=str(order_id), contest_id=order.contest_id)
    return ConfirmOutcome.FLAGGED


def is_second_charge(order: VoteOrder, provider_txn_id: str | None) -> bool:
    """The provider reports another successful transaction for an order already paid."""
    return (order.status is OrderStatus.PAID and bool(provider_txn_id) and bool(order.provider_txn_id)
            and provider_txn_id != order.provider_txn_id)


async def record_second_charge(session: AsyncSession, order: VoteOrder, provider_txn_id: str | None, amount: int,
                               currency: str) -> None:
    """Never counted again, never silent: an audit entry and an outbox event for a person to refund."""
    details = {"provider": order.provider, "paid_txn": order.provider_txn_id, "second_txn": provider_txn_id,
               "amount": amount, "currency": currency.upper()}
    session.add(AuditEntry(actor="system", action="payment.duplicate", target=str(order.id), details=details))
    await _emit(session, "payment.duplicate", order_id=str(order.id), contest_id=order.contest_id, **details)


async def _add_votes(session: AsyncSession, contest_id: int, candidate_id: int, quantity: int) -> None:
    await session.execute(
        pg_insert(Tally)
        .values(candidate_id=candidate_id, contest_id=contest_id, votes=max(quantity, 0))
        .on_conflict_do_update(
            index_elements=[Tally.candidate_id],
            set_={"votes": Tally.votes + quantity, "updated_at": func.now()},
        )
    )


async def _emit(session: AsyncSession, topic: str, **payload: Any) -> None:
    await session.execute(insert(OutboxMessage).values(topic=topic, payload=payload))


async def _close_pending(sessions: Sessions, order_id: uuid.UUID, status: OrderStatus, reason: str) -> bool:
    """Write a terminal non-paid state once; returns whether this call wrote it."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VoteOrder)
            .where(VoteOrder.id == order_id, VoteOrder.status == OrderStatus.PENDING)
            .values(status=status, status_reason=reason, decided_at=func.now())
            .returning(VoteOrder.contest_id)
        )
        contest_id = result.scalar_one_or_none()
        if contest_id is None:
            return False
        await _emit(session, f"order.{status.value}", order_id=str(order_id), contest_id=contest_id)
        return True


async def fail_order(sessions: Sessions, order_id: uuid.UUID, reason: str) -> bool:
    return await _close_pending(sessions, order_id, OrderStatus.FAILED, reason)


async def cancel_if_unstarted(sessions: Sessions, order_id: uuid.UUID, reason: str) -> bool:
    """Fail a pending order whose payment was never started (the voter left before the push)."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VoteOrder)
            .where(VoteOrder.id == order_id, VoteOrder.status == OrderStatus.PENDING,
                   VoteOrder.payment_started_at.is_(None))
            .values(status=OrderStatus.FAILED, status_reason=reason, decided_at=func.now())
            .returning(VoteOrder.contest_id)
        )
        return result.scalar_one_or_none() is not None


async def expire_order(sessions: Sessions, order_id: uuid.UUID, reason: str = "no payment in time") -> bool:
    return await _close_pending(sessions, order_id, OrderStatus.EXPIRED, reason)


async def flag_order(sessions: Sessions, order_id: uuid.UUID, reason: str) -> bool:
    """Set a pending order aside for a person (e.g. the provider did not say how much it took)."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VoteOrder)
            .where(VoteOrder.id == order_id, VoteOrder.status == OrderStatus.PENDING)
            .values(status=OrderStatus.FLAGGED, status_reason=reason, decided_at=func.now())
            .returning(VoteOrder.contest_id)
        )
        contest_id = result.scalar_one_or_none()
        if contest_id is not None:
            await _emit(session, "order.flagged", order_id=str(order_id), contest_id=contest_id)
        return contest_id is not None


async def record_partial_refund(sessions: Sessions, order_id: uuid.UUID, refunded: int, currency: str | None) -> bool:
    """A provider refunded part of a paid order (made by hand, e.g. in Stripe's dashboard).

    Which votes that money stood for is a person's call, so the tally is left alone and the refund
    is recorded for review (audit entry + outbox). Returns False when the refund covers the order.
    """
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        if order is None or order.status is not OrderStatus.PAID or refunded >= order.amount:
            return False
        details = {"provider": order.provider, "refunded": refunded, "amount": order.amount,
                   "currency": (currency or order.currency).upper()}
        session.add(AuditEntry(actor="system", action="payment.partial_refund", target=str(order_id),
                               details=details))
        await _emit(session, "payment.partial_refund", order_id=str(order_id), contest_id=order.contest_id,
                    **details)
        return True


async def uncount(sessions: Sessions, order_id: uuid.UUID, to: OrderStatus, reason: str) -> bool:
    """Move a paid (or refund-requested) order to a refund state; a paid one leaves the tally."""
    allowed = {OrderStatus.REFUND_REQUESTED: {OrderStatus.PAID},
               OrderStatus.REFUNDED: {OrderStatus.PAID, OrderStatus.REFUND_REQUESTED}}[to]
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        if order is None:
            raise NotFound("No vote order has that id.", code="order_not_found")
        if order.status not in allowed:
            return False
        if order.status is OrderStatus.PAID:
            await _add_votes(session, order.contest_id, order.candidate_id, -order.quantity)
            await _emit(session, "vote.uncounted", order_id=str(order_id), contest_id=order.contest_id)
        order.status = to
        order.status_reason = reason
        return True
