"""Orders as the admin area sees them: searched, opened with their provider events, messages and audit
entries, a receipt sent again; and the review queue's decisions (count it, reject and refund, dismiss,
refunded by hand), each with a reason, audited, the tally kept equal to the votes of paid orders; and an
owner's refund of any paid order, by the same path as `gateway refund`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, insert, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.entered_text import entered_text
from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.core.fraud.holds import refuse_a_decided_rounds
from gateway.core.money_in.money_arrived import confirm_money_in
from gateway.core.money_out.refunds import RefundOutcome, request_refund
from gateway.core.orders import accounting
from gateway.core.oversight import review
from gateway.core.oversight.review import ReviewItem, ReviewKind
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.core.providers import Providers
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import (
    AuditEntry,
    Candidate,
    Contest,
    ContestOrganiser,
    OrderStatus,
    OutboxMessage,
    ProviderEvent,
    Refund,
    RefundState,
    VoteOrder,
)


@dataclass(frozen=True)
class OrderFilter:
    msisdn: str | None = None
    reference: str | None = None  # our order id or payment reference, or the provider's transaction id
    status: str | None = None
    contest_id: int | None = None
    candidate: str | None = None  # a candidate's code
    channel: str | None = None
    provider: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


@dataclass(frozen=True)
class OrderRow:
    order: VoteOrder
    contest: str
    candidate: str | None  # None: the order paid an entry's fee (`order.entry_id`)


def _visible(actor: Actor) -> Any:
    if actor.role != "organiser":
        return true()
    return exists().where(ContestOrganiser.contest_id == VoteOrder.contest_id,
                          ContestOrganiser.admin_id == actor.admin_id)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def _conditions(wanted: OrderFilter) -> list[Any]:
    where: list[Any] = []
    if wanted.msisdn:
        try:
            where.append(VoteOrder.voter_msisdn == normalise_msisdn(wanted.msisdn))
        except InvalidMsisdn:
            raise DomainError("That is not a phone number.", code="invalid_field", field="msisdn") from None
    if wanted.reference:
        ref = wanted.reference.strip()[:200]
        as_id = _uuid(ref)
        where.append((VoteOrder.id == as_id) | (VoteOrder.payment_reference == as_id) if as_id
                     else VoteOrder.provider_txn_id == ref)
    if wanted.status:
        try:
            where.append(VoteOrder.status == OrderStatus(wanted.status))
        except ValueError:
            raise DomainError("No such order status.", code="invalid_field", field="status") from None
    if wanted.channel:
        try:
            where.append(VoteOrder.channel == wanted.channel)
        except ValueError:
            raise DomainError("No such channel.", code="invalid_field", field="channel") from None
    if wanted.provider:
        where.append(VoteOrder.provider == wanted.provider[:32])
    if wanted.contest_id is not None:
        where.append(VoteOrder.contest_id == wanted.contest_id)
    if wanted.candidate:
        where.append(Candidate.code == wanted.candidate[:8])
    if wanted.since:
        where.append(VoteOrder.created_at >= wanted.since)
    if wanted.until:
        where.append(VoteOrder.created_at < wanted.until)
    return where


async def search_orders(sessions: Sessions, actor: Actor, wanted: OrderFilter) -> list[OrderRow]:
    query = (select(VoteOrder, Contest.slug, Candidate.code)
             .join(Contest, Contest.id == VoteOrder.contest_id)
             .outerjoin(Candidate, Candidate.id == VoteOrder.candidate_id)  # none for an entry's fee
             .where(_visible(actor), *_conditions(wanted))
             .order_by(VoteOrder.created_at.desc()).limit(min(max(wanted.limit, 1), 500)))
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [OrderRow(order, slug, code) for order, slug, code in rows]


@dataclass(frozen=True)
class OrderDetail:
    row: OrderRow
    events: list[ProviderEvent]
    messages: list[OutboxMessage]
    audit: list[AuditEntry]
    refunds: list[Refund]  # sent by the provider's own API (gateway.core.money_out.refunds_sent)


async def order_detail(sessions: Sessions, actor: Actor, order_id: uuid.UUID) -> OrderDetail:
    found = await search_orders(sessions, actor, OrderFilter(reference=str(order_id), limit=1))
    if not found or found[0].order.id != order_id:
        raise NotFound("No vote order has that id.", code="order_not_found")
    async with sessions() as session:
        events = (await session.scalars(select(ProviderEvent).where(ProviderEvent.order_id == order_id)
                                        .order_by(ProviderEvent.received_at, ProviderEvent.id))).all()
        messages = (await session.scalars(select(OutboxMessage).where(
            OutboxMessage.payload["order_id"].astext == str(order_id)).order_by(OutboxMessage.id))).all()
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.target == str(order_id))
                                         .order_by(AuditEntry.id))).all()
        refunds = (await session.scalars(select(Refund).where(Refund.order_id == order_id)
                                         .order_by(Refund.created_at))).all()
    return OrderDetail(found[0], list(events), list(messages), list(entries), list(refunds))


RECEIPT_TOPIC = {OrderStatus.PAID: "order.paid", OrderStatus.FAILED: "order.failed",
                 OrderStatus.EXPIRED: "order.expired"}


async def resend_receipt(sessions: Sessions, actor: Actor, order_id: uuid.UUID) -> str:
    """Queue the order's receipt again (the same outbox topic its decision wrote); the sender is idempotent
    per order and kind on its side of the channel, so this is for a message the voter says never came."""
    detail = await order_detail(sessions, actor, order_id)
    order = detail.row.order
    topic = RECEIPT_TOPIC.get(order.status)
    if topic is None or not order.sends_receipt:
        raise Conflict("Only a decided order of a channel that sends receipts has one to send.", code="no_receipt")
    async with sessions.begin() as session:
        await session.execute(insert(OutboxMessage).values(
            topic=topic, payload={"order_id": str(order.id), "contest_id": order.contest_id, "resent": True}))
        await audit.record(session, actor, "order.resend_receipt", str(order.id), details={"topic": topic})
    return topic


def given_reason(reason: str) -> str:
    """A person's reason for a decision on money: kept in the audit trail, so it must be storable text."""
    return entered_text(reason, "reason", limit=500, required=True, label="A reason")


async def refund_order(sessions: Sessions, providers: Providers, actor: Actor, order_id: uuid.UUID,
                       reason: str) -> RefundOutcome:
    """An owner gives a paid order's money back from its page or the API, with a reason: Stripe and Stars through
    their APIs, mobile money marked for a refund by hand (the review queue lists it until it is paid back)."""
    return await request_refund(sessions, providers, order_id, actor.email, reason=given_reason(reason),
                                address=actor.address)


# The review queue: what is still waiting (an item decided since it was noted has left it).
DECISIONS: dict[ReviewKind, tuple[str, ...]] = {
    ReviewKind.FLAGGED: ("count", "refund", "dismiss"),
    ReviewKind.UNVERIFIED_PAYMENT: ("count", "dismiss"),
    ReviewKind.DUPLICATE_PAYMENT: ("refunded_by_hand", "dismiss"),
    ReviewKind.PARTIAL_REFUND: ("refund", "dismiss"),
    ReviewKind.REFUND_REQUESTED: ("refunded_by_hand",),
    ReviewKind.REFUND_FAILED: ("send_again", "refunded_by_hand"),
    # held by a fraud rule (gateway.core.fraud.holds): count it once, or give it back
    ReviewKind.HELD: ("count", "refund"),
}


async def waiting_reviews(sessions: Sessions) -> list[ReviewItem]:
    items = await review.orders_to_review(sessions)
    if not items:
        return []
    async with sessions() as session:
        rows = (await session.execute(select(AuditEntry.target, AuditEntry.details, AuditEntry.created_at).where(
            AuditEntry.action.startswith("review."),
            AuditEntry.target.in_({str(item.order_id) for item in items})))).all()
    decided = latest_decisions(rows)
    return [item for item in items
            if (at := decided.get((str(item.order_id), item.kind.value))) is None or at < item.noted_at]


def latest_decisions(rows: Iterable[tuple[str, Mapping[str, Any], datetime]]) -> dict[tuple[str, str], datetime]:
    """When each order's item of each kind was last decided, from the audit log's `review.*` rows (target, details,
    time) in any order: an item decided twice (a refund refused, sent again, refused again) by its latest."""
    decided: dict[tuple[str, str], datetime] = {}
    for target, details, at in rows:
        key = (target, str(details.get("kind")))
        decided[key] = max(at, decided.get(key, at))
    return decided


async def decide(sessions: Sessions, providers: Providers, actor: Actor, order_id: uuid.UUID, kind: str,
                 decision: str, reason: str) -> OrderStatus:
    """Apply a person's decision on one waiting item, with their reason; returns the order's status after."""
    reason = given_reason(reason)
    item = next((i for i in await waiting_reviews(sessions) if i.order_id == order_id and i.kind.value == kind), None)
    if item is None:
        raise NotFound("Nothing waits for a decision on that order.", code="review_not_found")
    if decision not in DECISIONS[item.kind]:
        raise DomainError(f"For this item: {', '.join(DECISIONS[item.kind])}.", code="invalid_field",
                          field="decision")
    details = {"kind": item.kind.value, "decision": decision, "reason": reason}
    if decision == "refund" and item.status in (OrderStatus.FLAGGED, OrderStatus.HELD):
        await confirm_money_in(sessions, providers, order_id)  # never give back what never came in
    if decision == "refund" and item.status is OrderStatus.PAID:  # through the provider where it can
        outcome = await request_refund(sessions, providers, order_id, actor.email, reason=reason,
                                       address=actor.address)
        async with sessions.begin() as session:
            await audit.record(session, actor, "review.refund", str(order_id), details=details,
                               after={"status": outcome.status.value, "message": outcome.message})
        return outcome.status
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        assert order is not None  # the queue just listed it
        before = {"status": order.status.value}
        note = f"{decision} by {actor.email} at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {reason}"
        if decision == "count":
            if order.status not in (OrderStatus.FLAGGED, OrderStatus.HELD, *review.UNDECIDED):
                raise Conflict("This order is no longer waiting to be counted.", code="not_countable")
            await refuse_a_decided_rounds(session, order.id)
            order.status, order.status_reason, order.decided_at = OrderStatus.PAID, note, func.now()
            await _add_votes(session, order)
        elif decision == "refund":  # money moved for a vote never counted: give it back by hand
            if order.status is not item.status:  # counted meanwhile (another person, a release): its votes stand
                raise Conflict(f"This order changed meanwhile (it is {order.status.value} now): look at it again.",
                               code="order_changed")
            if order.status is OrderStatus.HELD:  # a held order refused: the decision goes on the ledger
                await accounting.record_change(session, ledger.EntryKind.REJECTED, order, sign=0)
            order.status, order.status_reason = OrderStatus.REFUND_REQUESTED, note
        elif decision == "refunded_by_hand" and order.status is OrderStatus.REFUND_REQUESTED:
            await _no_refund_under_way(session, order)
            order.status, order.status_reason = OrderStatus.REFUNDED, note
        elif decision == "send_again":
            await _send_again(session, providers, order, actor, note)
        elif decision == "dismiss" and order.status is OrderStatus.FLAGGED:
            order.status_reason = note
        await audit.record(session, actor, f"review.{decision}", str(order_id), before=before,
                           after={"status": order.status.value}, details=details)
        return order.status


async def _add_votes(session: AsyncSession, order: VoteOrder) -> None:
    """The ledger's entry and the tally move with the order in one transaction (gateway.core.results.ledger); the board
    hears of it as of any counted vote."""
    await accounting.record_change(session, ledger.EntryKind.REVIEW_COUNTED, order, sign=1)
    await session.execute(insert(OutboxMessage).values(
        topic="vote.confirmed", payload={"order_id": str(order.id), "contest_id": order.contest_id}))
    if order.sends_receipt:
        await session.execute(insert(OutboxMessage).values(
            topic="order.paid", payload={"order_id": str(order.id), "contest_id": order.contest_id}))




async def _no_refund_under_way(session: AsyncSession, order: VoteOrder) -> None:
    """One refund of an order at a time, whatever the path: money given back by hand while the provider's own
    refund is on its way would reach the payer twice. The order's row is locked, and the refunds pass takes the
    same lock before it owes one (gateway.core.money_out.refunds_sent.owe_refunds)."""
    latest = (await review.latest_refunds(session, {order.id})).get(order.id)
    if latest is not None and latest.state is not RefundState.FAILED:
        raise Conflict(f"{latest.provider}'s refund of this order ({latest.id}) is {latest.state.value}: it gives "
                       "the money back by itself. Refund by hand only once it has failed.", code="refund_under_way")


async def _send_again(session: AsyncSession, providers: Providers, order: VoteOrder, actor: Actor,
                      note: str) -> None:
    """A refund the provider refused, sent again under a new reference (the refused one is done with there)."""
    latest = (await review.latest_refunds(session, {order.id})).get(order.id)
    if order.status is not OrderStatus.REFUND_REQUESTED or latest is None or latest.state is not RefundState.FAILED:
        raise Conflict("Only a refund the provider refused is sent again.", code="not_failed")
    if providers.refunder(order.provider) is None:
        raise Conflict(f"{order.provider} refunds are not sent by its API here: pay it back by hand.",
                       code="no_refunder")
    session.add(Refund(id=uuid.uuid4(), order_id=order.id, provider=order.provider, amount=order.amount,
                       currency=order.currency, reason=note, requested_by=actor.email))
