"""Orders held by the fraud rules: gathered when an order is placed, applied when it is paid, decided by a person.

The rules themselves are pure (gateway.core.fraud). Here is what ties them to orders:

- placing an order counts it and reads the figures around it (gateway.core.fraud_counters), and the insert keeps
  them, the points they scored and, when they reach the contest's hold score, the reason (`judge_placement`);
- the counting statement moves such an order, once paid, to `held` instead of counting it; it does the
  same for a payer's payments in quick succession, a figure only known at confirmation
  (`quick_payments_hit`), and for a provider's word on the payment that takes the score there (`risk_hit`);
- a person then counts it (`release_held`: held → paid, its votes on the tally, once) or rejects it
  (`reject_held`: held → refund_requested; the money goes back as any refund does), each with an audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import fraud_counters, ledger
from gateway.core.errors import Conflict, NotFound
from gateway.core.fraud import HOLD_SCORE, PLACEMENT_FIGURES, FraudRules, Recent, Rule, Verdict, evaluate
from gateway.core.shared_addresses import carrier_of
from gateway.db.engine import Sessions
from gateway.db.models import (
    AuditEntry,
    BlockedAddress,
    Contest,
    OrderStatus,
    OutboxMessage,
    VoteOrder,
)

ORDERS = VoteOrder.__table__
HELD_TOPIC = "order.held"  # for the review queue; the voter's receipt waits for the decision


def judge_placement(stored_rules: Mapping[str, Any] | None, counted: fraud_counters.Counted,
                    address: str | None) -> tuple[dict[str, Any], Verdict]:
    """The figures an order is placed with (itself included; kept on it as `fraud_figures`, with whether its address
    is shared) and the signals they give. An order from an address many people share (a mobile operator's, or one
    the service learned) is judged as one of a crowd (gateway.core.fraud.evaluate)."""
    figures = {**counted.figures, "shared": counted.learned_shared or carrier_of(address) is not None}
    return figures, verdict_on(FraudRules.of(stored_rules), figures)


def verdict_on(rules: FraudRules, figures: Mapping[str, Any]) -> Verdict:
    """The rules on an order's kept figures (a preview tries other thresholds on the same)."""
    recent = Recent(**{name: int(figures.get(name) or 0) for name in PLACEMENT_FIGURES})
    return evaluate(rules, recent, crowd=bool(figures.get("shared")))


# When a confirmation happened: the provider's word arrives now (a replay of a show night passes its own clock).
CONFIRMED_AT = func.coalesce(bindparam("confirm_now", type_=DateTime(timezone=True)), func.now())


def contest_rule(orders: Any, key: str) -> ColumnElement[int]:
    """One of the order's contest's thresholds, in the counting statement: the contest's, else the default."""
    rules = select(Contest.fraud_rules).where(Contest.id == orders.contest_id).correlate(ORDERS).scalar_subquery()
    value: ColumnElement[int] = func.coalesce(cast(rules.op("->>")(key), Integer), FraudRules().limit(key))
    return value


def quick_payments_hit(orders: Any) -> ColumnElement[bool]:
    """In the counting statement: this payer already had `quick_payments` orders paid (or held) in the contest
    within `quick_payment_seconds`; this one would be one more. Thresholds from the contest, else the defaults. A
    payment with no payer number (a card, Stars) is its voter's, where its channel names them (a chat user, a
    browser): a burst of cards from one browser is one payer's burst."""
    limit, seconds = contest_rule(orders, "quick_payments"), contest_rule(orders, "quick_payment_seconds")
    other = ORDERS.alias("earlier")

    def paid_lately(*same: ColumnElement[bool]) -> Any:  # one index each (voter_msisdn, voter_ref)
        return (select(func.count()).where(
            *same, other.c.contest_id == orders.contest_id,
            or_(other.c.status == OrderStatus.PAID, other.c.status == OrderStatus.HELD),  # not IN: see placing
            other.c.decided_at > CONFIRMED_AT - func.make_interval(0, 0, 0, 0, 0, 0, seconds),
            # A burst is placed and paid quickly: the payer's orders placed in the ten minutes before the window,
            # read by the index on (payer, created_at), not their whole history (a slow card checkout paid in the
            # window is not part of a burst).
            other.c.created_at > CONFIRMED_AT - func.make_interval(0, 0, 0, 0, 0, 10, seconds))
            .correlate(ORDERS).scalar_subquery())

    recent = case((orders.voter_msisdn.is_not(None), paid_lately(other.c.voter_msisdn == orders.voter_msisdn)),
                  (orders.voter_ref.is_not(None), paid_lately(other.c.voter_ref == orders.voter_ref,
                                                              other.c.channel == orders.channel)),
                  else_=0)
    hit: ColumnElement[bool] = and_(limit > 0, recent >= limit)
    return hit


# What a stored client address looks like when it is one (placement keeps "unknown" for a missing one): only
# such a value is cast to inet, so no confirmation can fail on a cast.
ADDRESS_SHAPE = r"^([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?$|^[0-9a-f:]*:[0-9a-f:.]*(/[0-9]{1,3})?$"


def address_blocked_hit(orders: Any) -> ColumnElement[bool]:
    """In the counting statement: the order's address was blocked after it was placed (before, it was refused)."""
    address = case((orders.voter_address.regexp_match(ADDRESS_SHAPE), cast(orders.voter_address, INET)),
                   else_=None)
    hit: ColumnElement[bool] = select(BlockedAddress.network).where(
        BlockedAddress.network.op(">>=")(address)).correlate(ORDERS).exists()
    return hit


RISK_POINTS = bindparam("confirm_risk_points", type_=Integer)  # what the provider's word scored (fraud.risk_hits)
RISK_REASON = bindparam("confirm_risk_reason", type_=Text)


def risk_hit(orders: Any) -> ColumnElement[bool]:
    """In the counting statement: the provider's word on the payment, with what the order scored at placement,
    reaches the contest's hold score."""
    hold_at = contest_rule(orders, HOLD_SCORE.key)
    hit: ColumnElement[bool] = and_(RISK_POINTS > 0, hold_at > 0,
                                    func.coalesce(orders.fraud_score, 0) + RISK_POINTS >= hold_at)
    return hit


def risk_reason(orders: Any) -> ColumnElement[str]:
    placed = func.coalesce(orders.fraud_score, 0)
    reason: ColumnElement[str] = func.concat(
        RISK_REASON, " = ", placed + RISK_POINTS, " points with the placement's ", placed, ", held at ",
        contest_rule(orders, HOLD_SCORE.key))
    return reason


def paid_or_held(orders: Any) -> ColumnElement[Any]:
    """The status a confirmed payment gives its order: held when its signals reached the hold score, at placement
    or now."""
    status = ORDERS.c.status.type
    fired = (orders.hold_reason.is_not(None) | quick_payments_hit(orders) | address_blocked_hit(orders)
             | risk_hit(orders))
    # An entry's fee buys no vote: nothing to hold out of a tally (and its entry waits for a person anyway).
    fired = orders.candidate_id.is_not(None) & fired
    return case((fired, literal(OrderStatus.HELD, status)), else_=literal(OrderStatus.PAID, status))


def held_reason_now(orders: Any) -> ColumnElement[Any]:
    return case((orders.candidate_id.is_(None), None), else_=held_reason_when_votes(orders))


def held_reason_when_votes(orders: Any) -> ColumnElement[Any]:
    return func.coalesce(orders.hold_reason,
                         case((quick_payments_hit(orders), literal("quick_payments: paid again within the window")),
                              (address_blocked_hit(orders), literal(f"{Rule.BLOCKED_ADDRESS.value}: blocked since "
                                                                    "the order was placed")),
                              (risk_hit(orders), risk_reason(orders)),
                              else_=None))


# ---- A person's decision -------------------------------------------------------------------------------------

def _released() -> Any:
    o = ORDERS.c
    released = (update(ORDERS).where(o.id == bindparam("held_order"), o.status == OrderStatus.HELD)
                .values(status=OrderStatus.PAID, updated_at=func.now())
                .returning(o.id, o.contest_id, o.candidate_id, o.quantity, o.amount, o.currency, o.provider_txn_id)
                .cte("released"))
    # The ledger's entry and the tally's increment made from it (gateway.core.ledger), as when a payment counts.
    event = select(released.c.contest_id, literal(ledger.EntryKind.RELEASED.value, String).label("kind"),
                   released.c.id.label("order_id"), released.c.candidate_id, released.c.quantity,
                   released.c.amount, released.c.currency, released.c.provider_txn_id).cte("ledger_event")
    entry = ledger.append_ctes(event)
    counted = ledger.tally_added_from(entry)
    payload = func.jsonb_build_object("order_id", cast(released.c.id, Text), "contest_id", released.c.contest_id)
    queued = insert(OutboxMessage).from_select(
        ["topic", "payload"], select(literal("vote.confirmed"), payload)
        .union_all(select(literal("order.paid"), payload))).cte("queued")
    return select(released.c.id).add_cte(entry, counted, queued)


RELEASE_HELD = _released()


async def release_held(sessions: Sessions, order_id: uuid.UUID, *, actor: str, reason: str) -> None:
    """Count a held order's votes, once: held → paid, the tally and the board's outbox row in one statement."""
    async with sessions.begin() as session:
        released = await session.scalar(RELEASE_HELD, {"held_order": order_id})
        if released is None:
            await _refuse(session, order_id)
        session.add(AuditEntry(actor=actor, action="order.release_held", target=str(order_id),
                               details={"reason": reason, "before": "held", "after": "paid"}))


async def reject_held(sessions: Sessions, order_id: uuid.UUID, *, actor: str, reason: str) -> None:
    """Refuse a held order: its votes never count and the money is owed back (`gateway refund` pays it)."""
    async with sessions.begin() as session:
        o = ORDERS.c
        rejected = (await session.execute(
            update(ORDERS).where(o.id == order_id, o.status == OrderStatus.HELD)
            .values(status=OrderStatus.REFUND_REQUESTED, status_reason=f"rejected after review: {reason}",
                    updated_at=func.now())
            .returning(o.id, o.contest_id, o.candidate_id, o.quantity, o.amount, o.currency, o.provider_txn_id,
                       o.voter_msisdn, o.channel, o.voter_ref),
        )).one_or_none()
        if rejected is None:
            await _refuse(session, order_id)
        else:  # a person's decision on the ledger, though no vote moves; the payer's next orders carry it
            await ledger.append_event(session, ledger.EntryKind.REJECTED, rejected, sign=0)
            await fraud_counters.note_refused(session, rejected.contest_id, rejected.voter_msisdn,
                                              fraud_counters.voter_of(rejected.channel, rejected.voter_ref),
                                              datetime.now(UTC))
        session.add(AuditEntry(actor=actor, action="order.reject_held", target=str(order_id),
                               details={"reason": reason, "before": "held", "after": "refund_requested"}))


async def _refuse(session: AsyncSession, order_id: uuid.UUID) -> None:
    status = await session.scalar(select(VoteOrder.status).where(VoteOrder.id == order_id))
    if status is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    raise Conflict(f"The order is {status.value}, not held: nothing to decide.", code="order_not_held")

