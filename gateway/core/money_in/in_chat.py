"""Payments made inside a chat (Stars): checked before the charge, confirmed from the chat.

The chat asks us once more before it charges (within seconds): the order must still be pending, at its
price, its contest open and its candidate active. Its word of the payment then reaches the core like a
provider's signed callback (the provider's own body: `ChatPayments`; kept, deduplicated on the charge id,
counted once), except that a payment landing after the lines closed and their grace (gateway.core.contests.late_votes,
the same rule as every channel's) is given back at once rather than counted.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select

from gateway.core.contests import late_votes
from gateway.core.contests.catalog import VoterOrder
from gateway.core.contests.rules import VotingState, check_candidate, voting_state
from gateway.core.errors import VoteRejected
from gateway.core.money_in.callback_settling import receive_callback
from gateway.core.money_in.collections import load_collection
from gateway.core.orders import refunding
from gateway.core.orders.outcomes import Outcome
from gateway.core.providers import ChatPayments, PaymentError, Providers
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Candidate, Contest, OrderStatus, VoteOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatOrder:
    """An order found from the payload of its invoice, with what decides whether it may still be paid."""

    order: VoterOrder
    voting: VotingState
    candidate_active: bool
    reference: uuid.UUID
    late: bool = False  # paid now, it would come after the lines closed and their grace (contests.late_votes)


async def order_for_payload(sessions: Sessions, payload: str) -> ChatOrder | None:
    try:
        reference = uuid.UUID(payload)
    except ValueError:
        return None
    now = datetime.now(UTC)
    async with autocommit(sessions) as session:
        row = (await session.execute(
            select(VoteOrder, Contest, Candidate).join(Contest, Contest.id == VoteOrder.contest_id)
            .join(Candidate, Candidate.id == VoteOrder.candidate_id)
            .where(VoteOrder.payment_reference == reference))).one_or_none()
        if row is None:
            return None
        order, contest, candidate = row
        close = await late_votes.order_close(session, contest, order.round_id)
    try:
        check_candidate(candidate.status, candidate.code)
        active = True
    except VoteRejected:
        active = False
    return ChatOrder(VoterOrder.of(order, contest.slug, candidate.code, candidate.name),
                     voting_state(contest.status, contest.opens_at, contest.closes_at, now), active, reference,
                     late_votes.is_late(order.created_at, now, close, contest.late_grace_seconds))


def charge_refusal(found: ChatOrder | None, amount: int, currency: str) -> str | None:
    """Why the chat must not charge (a code for the voter's message), or None when it may."""
    if found is None:
        return "order_not_found"
    if found.order.status is not OrderStatus.PENDING:
        return "order_decided"
    if found.voting is not VotingState.OPEN:
        return "contest_closed"
    if not found.candidate_active:
        return "candidate_not_active"
    if found.order.amount != amount or found.order.currency != currency.upper():
        return "amount_mismatch"
    return None


async def check_before_charge(sessions: Sessions, payload: str, amount: int, currency: str) -> str | None:
    """The core's last word before the chat charges: None to go ahead, else why not."""
    return charge_refusal(await order_for_payload(sessions, payload), amount, currency)


class ChatPaymentOutcome(StrEnum):
    COUNTED = "counted"
    REFUNDED = "refunded"  # paid after voting closed: the Stars went back
    ALREADY = "already"  # this payment was settled before (a replay)
    NOT_OURS = "not_ours"
    NOT_COUNTED = "not_counted"  # kept for a person (mismatch, late after expiry)


@dataclass(frozen=True)
class ChatPayment:
    payload: str
    charge_id: str
    amount: int
    currency: str


async def settle_chat_payment(sessions: Sessions, registry: Providers, provider: str,
                              payment: ChatPayment) -> tuple[ChatPaymentOutcome, VoterOrder | None]:
    """Count a payment made in the chat once; give it back when it came after the lines closed and their grace."""
    found = await order_for_payload(sessions, payment.payload)
    if found is None:
        log.warning("a %s payment %s names no order of ours", provider, payment.charge_id)
        return ChatPaymentOutcome.NOT_OURS, None
    order_id = found.order.id
    if found.order.status is OrderStatus.PENDING and found.late:  # the published rule: inside the grace it counts
        return await refund_late(sessions, registry, provider, order_id, payment), found.order
    paid_in = registry.for_order(provider, found.order.channel)
    if not isinstance(paid_in, ChatPayments):
        raise PaymentError(provider, "not_in_chat", "This provider takes no payment inside a chat.")
    body = paid_in.chat_payment_body(payment.charge_id, payment.amount, payment.currency, payment.payload)
    result = await receive_callback(sessions, registry, provider, order_id, {}, body)
    if result.outcome is Outcome.COUNTED:
        return ChatPaymentOutcome.COUNTED, found.order
    if result.outcome in (Outcome.DUPLICATE, Outcome.ALREADY_DECIDED):
        return ChatPaymentOutcome.ALREADY, found.order
    return ChatPaymentOutcome.NOT_COUNTED, found.order


async def refund_late(sessions: Sessions, registry: Providers, provider: str, order_id: uuid.UUID,
                      payment: ChatPayment) -> ChatPaymentOutcome:
    """Refund first, then record it: a crash between the two refunds again, which the provider refuses harmlessly."""
    async with autocommit(sessions) as session:
        loaded = await load_collection(session, order_id)
    assert loaded is not None
    order, collection = loaded
    charged = replace(collection, provider_txn_id=payment.charge_id)
    result = await registry.for_order(provider, order.channel).refund(charged)
    await refunding.settle_refund(sessions, order_id, result.amount, result.currency, payment.charge_id)
    log.info("order %s paid after voting closed: %s refunded", order_id, provider)
    return ChatPaymentOutcome.REFUNDED


async def chat_orders(sessions: Sessions, voter_ref: str, limit: int = 10) -> list[VoterOrder]:
    """A chat's latest orders, newest first (what /myvotes lists)."""
    async with autocommit(sessions) as session:
        rows = (await session.execute(
            select(VoteOrder, Contest.slug, Candidate.code, Candidate.name)
            .join(Contest, Contest.id == VoteOrder.contest_id)
            .join(Candidate, Candidate.id == VoteOrder.candidate_id)
            .where(VoteOrder.voter_ref == voter_ref)
            .order_by(VoteOrder.created_at.desc()).limit(limit))).all()
    return [VoterOrder.of(order, slug, code, name) for order, slug, code, name in rows]
