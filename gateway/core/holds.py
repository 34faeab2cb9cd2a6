"""Orders held by the fraud rules: gathered when an order is placed, applied when it is paid, decided by a person.

The rules themselves are pure (gateway.core.fraud). Here is what ties them to orders:

- placing an order reads the figures around it (`FIGURES`, returned by the insert itself, so no round trip is
  added) and, when a rule fires, keeps the reason on the order (`hold_reason`);
- the counting statement moves such an order, once paid, to `held` instead of counting it; it does the
  same for a payer's payments in quick succession, a figure only known at confirmation
  (`quick_payments_hit`);
- a person then counts it (`release_held`: held → paid, its votes on the tally, once) or rejects it
  (`reject_held`: held → refund_requested; the money goes back as any refund does), each with an audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core import ledger
from gateway.core.errors import Conflict, NotFound
from gateway.core.fraud import DECLARED, FraudRules, Recent, Rule, evaluate, hold_reason
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


def figures() -> dict[str, ColumnElement[Any]]:
    """What the database knows around a new order, *before* it: each declared rule's scalar subquery on the
    insert's own bound parameters (see gateway.core.orders.placing.insert_order_parameters), evaluated after the
    payer's lock."""
    return {declared.figure: declared.sql() for declared in DECLARED if declared.sql is not None}


FIGURES = figures()


def figures_object() -> ColumnElement[Any]:
    """The `FIGURES` as one JSON object, the new order's `fraud_figures` (computed by its insert)."""
    pairs = [part for name, figure in FIGURES.items() for part in (literal(name), figure)]
    built: ColumnElement[Any] = func.jsonb_build_object(*pairs).label("fraud_figures")
    return built


def recent_with(figures: Mapping[str, Any], order: Mapping[str, Any]) -> Recent:
    """The figures counted *including* the order (the subqueries ran before its row existed)."""
    return Recent(**{declared.figure: int(figures.get(declared.figure) or 0) + declared.own(order)
                     for declared in DECLARED if declared.sql is not None})


def reason_to_hold(stored_rules: Mapping[str, Any] | None, inserted: Mapping[str, Any]) -> str | None:
    """Why the order just inserted (its row, with its `fraud_figures`) is to be held once paid; None: count it. An
    order from a mobile operator's shared address is judged as one of a crowd (gateway.core.fraud.evaluate)."""
    crowd = carrier_of(inserted["voter_address"]) is not None
    figures = recent_with(inserted["fraud_figures"] or {}, inserted)
    return hold_reason(evaluate(FraudRules.of(stored_rules), figures, crowd=crowd))


KEEP_HOLD_REASON = update(ORDERS).where(ORDERS.c.id == bindparam("held_order")).values(
    hold_reason=bindparam("reason", type_=Text))


async def keep_hold_reason(connection: AsyncConnection, order_id: uuid.UUID, reason: str) -> None:
    await connection.execute(KEEP_HOLD_REASON, {"held_order": order_id, "reason": reason})


def quick_payments_hit(orders: Any) -> ColumnElement[bool]:
    """In the counting statement: this payer already had `quick_payments` orders paid (or held) in the contest
    within `quick_payment_seconds`; this one would be one more. Thresholds from the contest, else the defaults."""
    defaults = FraudRules()
    rules = select(Contest.fraud_rules).where(Contest.id == orders.contest_id).correlate(ORDERS).scalar_subquery()
    limit = func.coalesce(cast(rules.op("->>")("quick_payments"), Integer), defaults.limit("quick_payments"))
    seconds = func.coalesce(cast(rules.op("->>")("quick_payment_seconds"), Integer),
                            defaults.limit("quick_payment_seconds"))
    other = ORDERS.alias("earlier")
    recent = (select(func.count()).where(
        other.c.voter_msisdn == orders.voter_msisdn, other.c.contest_id == orders.contest_id,
        or_(other.c.status == OrderStatus.PAID, other.c.status == OrderStatus.HELD),  # not IN: see figures()
        other.c.decided_at > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, seconds))
        .correlate(ORDERS).scalar_subquery())
    hit: ColumnElement[bool] = and_(orders.voter_msisdn.is_not(None), limit > 0, recent >= limit)
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


def paid_or_held(orders: Any) -> ColumnElement[Any]:
    """The status a confirmed payment gives its order: held when a rule fired, at placement or now."""
    status = ORDERS.c.status.type
    fired = orders.hold_reason.is_not(None) | quick_payments_hit(orders) | address_blocked_hit(orders)
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
            .returning(o.id, o.contest_id, o.candidate_id, o.quantity, o.amount, o.currency, o.provider_txn_id),
        )).one_or_none()
        if rejected is None:
            await _refuse(session, order_id)
        else:  # a person's decision on the ledger, though no vote moves
            await ledger.append_event(session, ledger.EntryKind.REJECTED, rejected, sign=0)
        session.add(AuditEntry(actor=actor, action="order.reject_held", target=str(order_id),
                               details={"reason": reason, "before": "held", "after": "refund_requested"}))


async def _refuse(session: AsyncSession, order_id: uuid.UUID) -> None:
    status = await session.scalar(select(VoteOrder.status).where(VoteOrder.id == order_id))
    if status is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    raise Conflict(f"The order is {status.value}, not held: nothing to decide.", code="order_not_held")

