"""Orders held by the fraud rules: gathered when an order is placed, applied when it is paid, decided by a person.

The rules themselves are pure (gateway.core.fraud.rules). Here is what ties them to orders:

- placing an order counts it and reads the figures around it (gateway.core.fraud.fraud_counters), and the insert keeps
  them, the points they scored and, when they reach the contest's hold score, the reason (`judge_placement`);
- the counting statement moves such an order, once paid, to `held` instead of counting it; it does the
  same for what is only known at confirmation (`judged_at_confirmation`): a payer's payments in quick
  succession, an address blocked since, a provider's word on the payment that takes the score to the hold score;
- a person then counts it (`release_held`: held → paid, its votes on the tally, once) or rejects it
  (`reject_held`: held → refund_requested; the money goes back as any refund does), each with an audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
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
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import INET, insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.errors import Conflict, NotFound
from gateway.core.fraud import fraud_counters
from gateway.core.fraud.rules import HOLD_SCORE, PLACEMENT_FIGURES, FraudRules, Recent, Rule, Verdict, evaluate
from gateway.core.fraud.shared_addresses import carrier_of
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import (
    AuditEntry,
    BlockedAddress,
    Contest,
    ContestRound,
    OrderStatus,
    OutboxMessage,
    RoundStatus,
    VoteOrder,
)

ORDERS = VoteOrder.__table__
HELD_TOPIC = "order.held"  # for the review queue; the voter's receipt waits for the decision


def judge_placement(stored_rules: Mapping[str, Any] | None, counted: fraud_counters.Counted,
                    address: str | None) -> tuple[dict[str, Any], Verdict]:
    """The figures an order is placed with (itself included; kept on it as `fraud_figures`, with whether its address
    is shared) and the signals they give. An order from an address many people share (a mobile operator's, or one
    the service learned) is judged as one of a crowd (gateway.core.fraud.rules.evaluate)."""
    figures = {**counted.figures, "shared": counted.learned_shared or carrier_of(address) is not None}
    return figures, verdict_on(FraudRules.of(stored_rules), figures)


def verdict_on(rules: FraudRules, figures: Mapping[str, Any]) -> Verdict:
    """The rules on an order's kept figures (a preview tries other thresholds on the same)."""
    recent = Recent(**{name: int(figures.get(name) or 0) for name in PLACEMENT_FIGURES})
    return evaluate(rules, recent, crowd=bool(figures.get("shared")))


# When a confirmation happened: the provider's word arrives now (a replay of a show night passes its own clock).
CONFIRMED_AT = func.coalesce(bindparam("confirm_now", type_=DateTime(timezone=True)), func.now())
RISK_POINTS = bindparam("confirm_risk_points", type_=Integer)  # what the provider's word scored (fraud.risk_hits)
RISK_REASON = bindparam("confirm_risk_reason", type_=Text)
CONTESTS = Contest.__table__

# What a stored client address looks like when it is one (placement keeps "unknown" for a missing one): only
# such a value is cast to inet, so no confirmation can fail on a cast.
ADDRESS_SHAPE = r"^([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?$|^[0-9a-f:]*:[0-9a-f:.]*(/[0-9]{1,3})?$"


def contest_rule(key: str) -> ColumnElement[int]:
    """One of the contest's thresholds, in the judgement below: the contest's, else the default."""
    value: ColumnElement[int] = func.coalesce(cast(CONTESTS.c.fraud_rules.op("->>")(key), Integer),
                                              FraudRules().limit(key))
    return value


def quick_payment_seconds() -> ColumnElement[int]:
    """The contest's quick-payments window, at least a second: its counter's bucket width."""
    seconds: ColumnElement[int] = func.greatest(contest_rule("quick_payment_seconds"), 1)
    return seconds


# A payer's (or, with no payer number, a voter's) confirmed payments in the contest, in buckets of the contest's
# `quick_payment_seconds`: a counter of gateway.core.fraud.fraud_counters, kept by the counting statement.
QUICK_COUNTER = "payer_paid_quick"


def judged_at_confirmation(pending: ColumnElement[bool]) -> CTE:
    """The signals only known when the payment is confirmed, judged once for the order being counted: why it is
    held now (`reason`), or NULL; and the payments counter it adds to (`quick_subject`, `quick_bucket`).

    - quick payments: the payer already had `quick_payments` payments confirmed in the contest within
      `quick_payment_seconds`; this one would be one more. Read from their counter (one row by its key, as the
      placement's figures are), not counted over their orders: a count over the order table is estimated from
      statistics that age between two analyses, and a long-lived connection that settled on its plan while they
      promised a long scan goes on re-planning the counting statement for every vote. A payment with no payer
      number (a card, Stars) is its voter's, where its channel names them (a chat user, a browser): a burst of
      cards from one browser is one payer's burst;
    - the order's address was blocked after it was placed (before, it was refused);
    - the provider's word on the payment, with what the order scored at placement, reaches the hold score.

    An entry's fee buys no vote: nothing to hold out of a tally (and its entry waits for a person anyway).
    `pending`: the counting statement's guard on the order's status (gateway.core.orders.tables.still_pending,
    written for the planner), handed in so that the statement and this part of it read the order alike.
    MATERIALIZED: the counting statement reads `reason` twice (status and hold reason), judged once."""
    o, counts = ORDERS.c, fraud_counters.COUNTS
    limit, seconds, hold_at = contest_rule("quick_payments"), quick_payment_seconds(), contest_rule(HOLD_SCORE.key)
    subject = func.coalesce(o.voter_msisdn, case((o.voter_ref.is_not(None), func.concat(o.channel, ":", o.voter_ref)),
                                                 else_=None))
    epoch = func.extract("epoch", CONFIRMED_AT)
    bucket = cast(func.floor(epoch / seconds), BigInteger)
    covered = 1 - func.mod(epoch, seconds) / seconds  # the share of the bucket before that the window still covers
    recent = func.round(case((counts.c.bucket == bucket, counts.c.current + counts.c.previous * covered),
                             (counts.c.bucket == bucket - 1, counts.c.current * covered), else_=0))
    address = case((o.voter_address.regexp_match(ADDRESS_SHAPE), cast(o.voter_address, INET)), else_=None)
    blocked = select(BlockedAddress.network).where(BlockedAddress.network.op(">>=")(address)).exists()
    placed = func.coalesce(o.fraud_score, 0)
    reason = case(
        (o.candidate_id.is_(None), None),
        (and_(limit > 0, recent >= limit), literal("quick_payments: paid again within the window")),
        (blocked, literal(f"{Rule.BLOCKED_ADDRESS.value}: blocked since the order was placed")),
        (and_(RISK_POINTS > 0, hold_at > 0, placed + RISK_POINTS >= hold_at),
         func.concat(RISK_REASON, " = ", placed + RISK_POINTS, " points with the placement's ", placed,
                     ", held at ", hold_at)),
        else_=None)
    counter = and_(counts.c.contest_id == o.contest_id, counts.c.name == QUICK_COUNTER, counts.c.subject == subject)
    return (select(o.id, reason.label("reason"), subject.label("quick_subject"), bucket.label("quick_bucket"))
            .select_from(ORDERS.join(CONTESTS, CONTESTS.c.id == o.contest_id).outerjoin(counts, counter))
            .where(o.id == bindparam("confirm_order"), pending)
            .cte("judged").prefix_with("MATERIALIZED"))


def quick_payment_counted(paid: CTE) -> CTE:
    """The confirmed payment added to its payer's counter (only when the counting statement did confirm it)."""
    upsert = insert(fraud_counters.COUNTS).from_select(
        ["contest_id", "name", "subject", "bucket", "current", "previous"],
        select(paid.c.contest_id, literal(QUICK_COUNTER, String), paid.c.quick_subject, paid.c.quick_bucket,
               literal(1, BigInteger), literal(0, BigInteger)).where(paid.c.quick_subject.is_not(None)))
    return fraud_counters.rolled(upsert).cte("quick_counted")


def paid_or_held(orders: Any, judged: CTE) -> ColumnElement[Any]:
    """The status a confirmed payment gives its order: held when its signals reached the hold score, at placement
    or now."""
    status = ORDERS.c.status.type
    fired = orders.candidate_id.is_not(None) & (orders.hold_reason.is_not(None) | judged.c.reason.is_not(None))
    return case((fired, literal(OrderStatus.HELD, status)), else_=literal(OrderStatus.PAID, status))


def held_reason_now(orders: Any, judged: CTE) -> ColumnElement[Any]:
    return case((orders.candidate_id.is_(None), None), else_=func.coalesce(orders.hold_reason, judged.c.reason))


# ---- A person's decision -------------------------------------------------------------------------------------

def _released() -> Any:
    o = ORDERS.c
    released = (update(ORDERS).where(o.id == bindparam("held_order"), o.status == OrderStatus.HELD)
                .values(status=OrderStatus.PAID, updated_at=func.now())
                .returning(o.id, o.contest_id, o.candidate_id, o.quantity, o.amount, o.currency, o.provider_txn_id)
                .cte("released"))
    # The ledger's entry and the tally's increment made from it (gateway.core.results.ledger), as when a payment counts.
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


async def refuse_a_decided_rounds(session: AsyncSession, order_id: uuid.UUID) -> None:
    """Conflict for an order of a round already decided: its figures are final, and its votes would land on the
    board of the round open now. It may be refused (the money given back), never counted."""
    decided = await session.scalar(select(ContestRound.name).join(VoteOrder, VoteOrder.round_id == ContestRound.id)
                                   .where(VoteOrder.id == order_id, ContestRound.status == RoundStatus.DECIDED))
    if decided is not None:
        raise Conflict(f"Its round ({decided}) is decided: its votes can no longer count. Refuse it, and the money "
                       "is given back.", code="round_decided")


async def release_held(sessions: Sessions, order_id: uuid.UUID, *, actor: str, reason: str) -> None:
    """Count a held order's votes, once: held → paid, the tally and the board's outbox row in one statement."""
    async with sessions.begin() as session:
        await refuse_a_decided_rounds(session, order_id)
        released = await session.scalar(RELEASE_HELD, {"held_order": order_id})
        if released is None:
            await _refuse(session, order_id)
        session.add(AuditEntry(actor=actor, action="order.release_held", target=str(order_id),
                               details={"reason": reason, "before": "held", "after": "paid"}))


async def reject_held(sessions: Sessions, order_id: uuid.UUID, *, actor: str, reason: str) -> None:
    """Refuse a held order: its votes never count and the money is owed back, by the provider's own API where it
    refunds so (gateway.core.money_out.refunds_sent), else by a person from the review queue."""
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

