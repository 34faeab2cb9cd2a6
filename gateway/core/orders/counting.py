"""Counting a paid order: once, in one statement with its ledger entry, tally and outbox rows; and why not,
when it was not pending."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import (
    CTE,
    Select,
    String,
    Text,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core.contests import late_votes
from gateway.core.contests.rules import late_success_status
from gateway.core.entries import entry_fees
from gateway.core.errors import NotFound
from gateway.core.fraud import holds
from gateway.core.fraud.rules import risk_hits
from gateway.core.money import money_text
from gateway.core.orders import kept_events, tables
from gateway.core.orders.kept_events import EventToKeep
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.core.orders.receipts import LATE_RECEIPT_TOPIC, PAID_RECEIPT_TOPIC
from gateway.core.outbox import emit
from gateway.core.providers import PaymentRisk
from gateway.core.results import ledger
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection
from gateway.db.models import (
    AuditEntry,
    Contest,
    OrderStatus,
    OutboxMessage,
    PaymentVerification,
    VoteOrder,
)


async def confirm_payment(
    sessions: Sessions,
    order_id: uuid.UUID,
    provider_status: str,
    amount: int,
    currency: str,
    provider_txn_id: str | None,
    *,
    provider: str,
    verify_later: bool = False,
    risk: PaymentRisk | None = None,
    now: datetime | None = None,
) -> ConfirmOutcome:
    """Count a provider-confirmed payment exactly once: pending → paid, tally, outbox, one commit.

    `provider` is who confirms: only an order of that provider is counted (a signed Stripe event
    naming an MTN order proves nothing about the MTN payment). `verify_later`: the order counted is
    queued for a status check in the same statement (a callback's word, verified after). `risk`: what the
    provider says of the payment (a signal of the fraud rules); `now`: when (a replay of a show night passes its
    own clock)."""
    async with autocommit_connection(sessions) as connection:
        counted = await count_if_pending(connection, order_id, provider_status, amount, currency, provider_txn_id,
                                         provider=provider, verify_later=verify_later, risk=risk, now=now)
    if counted is not None:
        return counted
    async with sessions.begin() as session:
        return await _confirm_not_pending(session, order_id, provider_status, amount, currency, provider_txn_id,
                                          provider, now or datetime.now(UTC))


async def count_if_pending(
    connection: AsyncConnection, order_id: uuid.UUID, provider_status: str, amount: int, currency: str,
    provider_txn_id: str | None, *, provider: str, verify_later: bool = False, risk: PaymentRisk | None = None,
    now: datetime | None = None,
) -> ConfirmOutcome | None:
    """The common case of `confirm_payment` on a connection in autocommit mode: a pending order of this
    provider and amount is counted (or held); None when it is not (then `confirm_payment` finds out why).

    One statement, committed on its own: the tally row (every vote for a candidate meets there) is
    locked only while PostgreSQL runs it, never across a round trip to us."""
    counted = await (COUNTING_AND_QUEUEING if verify_later else COUNTING_STATEMENT).fetchrow(
        connection, counting_parameters(order_id, provider_status, amount, currency, provider_txn_id, provider=provider,
                                        risk=risk, now=now))
    return None if counted is None else counted_as(counted["status"])


RunStatement = Callable[[DriverStatement, Mapping[str, Any]], Awaitable[asyncpg.Record | None]]


async def count_keeping_event(
    run: RunStatement, event: EventToKeep, provider_status: str, amount: int, currency: str,
    provider_txn_id: str | None, *, verify_later: bool, risk: PaymentRisk | None = None,
    named: Mapping[str, Any] | None = None,
) -> tuple[ConfirmOutcome | None, int | None]:
    """`count_if_pending` for the callback `event` that says its order was paid, keeping the event in the same
    statement and commit (a statement and a commit fewer a vote than keeping it first): what was decided (None:
    nothing, the order was not pending) and the event's key (None: the provider's event id was kept before).
    `run` runs the statement: on a connection in autocommit mode, or in a batch (`count_batches`). `named`: provider
    data the order keeps with the count (`CallbackVerdict.keeps`)."""
    assert event.order_id is not None
    parameters = counting_parameters(event.order_id, provider_status, amount, currency, provider_txn_id,
                                     provider=event.provider, risk=risk, named=named) | event.parameters()
    row = await run(KEEPING_AND_QUEUEING if verify_later else COUNTING_AND_KEEPING, parameters)
    assert row is not None  # one row, whatever it decided
    return (None if row["status"] is None else counted_as(row["status"])), row["event_key"]


def counted_as(status: str) -> ConfirmOutcome:
    if status == OrderStatus.LATE.value:
        return ConfirmOutcome.LATE
    return ConfirmOutcome.HELD if status == OrderStatus.HELD.value else ConfirmOutcome.COUNTED


def counting_parameters(order_id: uuid.UUID, provider_status: str, amount: int, currency: str,
                        provider_txn_id: str | None, *, provider: str, risk: PaymentRisk | None = None,
                        now: datetime | None = None, named: Mapping[str, Any] | None = None) -> dict[str, object]:
    signals = risk_hits(risk, currency)
    return {"confirm_order": order_id, "confirm_amount": amount, "confirm_currency": currency.upper(),
            "confirm_txn": provider_txn_id, "confirm_status": provider_status, "confirm_provider": provider,
            "confirm_now": now, "confirm_risk_points": sum(hit.points for hit in signals),
            "confirm_risk_reason": "; ".join(hit.reason() for hit in signals),
            "confirm_named": dict(named) if named else None}


# A callback-counted order's status check waits this long: the provider's own records may lag its callback.
FIRST_VERIFY_AFTER = timedelta(seconds=30)


def counting_statement(*, verify_later: bool = False,
                       keeping_event: bool = False) -> Select[Any]:
    """The guarded pending → paid update, its ledger entry, the tally increment and the outbox rows as one statement.

    An order whose channel messages its voter (`VoteOrder.sends_receipt`) also gets an `order.paid`
    row: the receipt is sent by a job, after the commit, once (see gateway.core.orders.receipts).

    Built once, with bound parameters named unlike any column (a parameter named after a column
    of an UPDATE joins its SET clause): the hottest statement of a show night is not rebuilt and
    re-keyed for each vote.

    `keeping_event`: the statement also keeps the callback that brought the payment (`kept_events`), and answers
    one row whatever it decided: the order's new status (NULL: not counted) and the event's key (NULL: a replay
    of an event kept before).
    """
    orders = VoteOrder.__table__.c  # Core: an ORM update inside a CTE does not keep its bound parameters
    judged = holds.judged_at_confirmation(tables.still_pending())
    late = lateness()
    paying = (
        update(VoteOrder.__table__)
        .where(
            orders.id == judged.c.id,
            orders.id == late.c.id,
            tables.still_pending(orders.status),  # the guard that makes this idempotent
            orders.provider == bindparam("confirm_provider", type_=String),
            orders.amount == bindparam("confirm_amount"),
            orders.currency == bindparam("confirm_currency"),
        )
        # Paid, or held when a fraud rule fired (gateway.core.fraud.holds): a held order's votes wait for a person.
        # Late (gateway.core.contests.late_votes): paid after the lines closed and their grace, never counted.
        .values(status=case((late.c.late, literal(OrderStatus.LATE, orders.status.type)),
                            else_=holds.paid_or_held(orders, judged)),
                hold_reason=case((late.c.late, orders.hold_reason), else_=holds.held_reason_now(orders, judged)),
                provider_txn_id=bindparam("confirm_txn", type_=String),
                decided_at=holds.CONFIRMED_AT,
                status_reason=case((late.c.late, func.concat(LATE_REASON, bindparam("confirm_status", type_=Text))),
                                   else_=bindparam("confirm_status", type_=Text)),
                # What the paying callback names that the order did not know (`CallbackVerdict.keeps`), kept with the
                # count, in its commit; what the order has wins.
                provider_data=func.coalesce(NAMED, cast(literal("{}"), JSONB)).op("||")(orders.provider_data))
        .returning(orders.id, orders.contest_id, orders.candidate_id, orders.entry_id, orders.quantity, orders.amount,
                   orders.currency, orders.provider_txn_id, orders.sends_receipt, orders.status,
                   judged.c.quick_subject, judged.c.quick_bucket)
    )
    if keeping_event:  # a provider's event settled before counts nothing (a genuine one replayed on another order)
        paying = paying.where(~kept_events.settled_before())
    paid = paying.cte("paid")
    is_paid = paid.c.status == OrderStatus.PAID
    is_late = paid.c.status == OrderStatus.LATE
    buys_votes = paid.c.candidate_id.is_not(None)
    # The ledger's entry (gateway.core.results.ledger) and the tally's increment made from it: one is never without
    # the other.
    event = select(paid.c.contest_id, literal(ledger.EntryKind.COUNTED.value, String).label("kind"),
                   paid.c.id.label("order_id"), paid.c.candidate_id, paid.c.quantity, paid.c.amount, paid.c.currency,
                   paid.c.provider_txn_id).where(is_paid, buys_votes).cte("ledger_event")
    entry = ledger.append_ctes(event)
    counted = ledger.tally_added_from(entry)
    fee_paid = entry_fees.fee_paid_from(paid.c.entry_id, is_paid)
    topic = case((is_paid & buys_votes, literal("vote.confirmed")), (is_paid, literal(entry_fees.FEE_PAID_TOPIC)),
                 else_=literal(holds.HELD_TOPIC))
    queued = insert(OutboxMessage).from_select(  # a late order's refund is found by its status (late_refunds)
        ["topic", "payload"],
        select(topic, func.jsonb_build_object("order_id", cast(paid.c.id, Text), "contest_id", paid.c.contest_id))
        .where(~is_late),
    ).cte("queued")
    receipted = insert(OutboxMessage).from_select(  # the voter told it counted, or why it did not
        ["topic", "payload"],
        select(case((is_late, literal(LATE_RECEIPT_TOPIC)), else_=literal(PAID_RECEIPT_TOPIC)),
               func.jsonb_build_object("order_id", cast(paid.c.id, Text), "contest_id", paid.c.contest_id))
        .where(paid.c.sends_receipt, is_paid | is_late),
    ).cte("receipted")
    ctes = [entry, counted, fee_paid, queued, receipted, holds.quick_payment_counted(paid)]
    if verify_later:  # callback verification: the order joins the queue with its count, or neither
        # A late order is not: its money is asked about before it goes back (gateway.core.money_in.money_arrived).
        ctes.append(insert(PaymentVerification).from_select(
            ["order_id", "due_at"], select(paid.c.id, func.now() + FIRST_VERIFY_AFTER).where(~is_late))
            .cte("verifying"))
    if not keeping_event:  # no row when it counted nothing
        return select(paid.c.status).add_cte(*ctes)
    status = select(paid.c.status).scalar_subquery()
    # The callback that brought the payment, kept by this statement with the outcome it decided (NULL when it
    # decided nothing): the event is never kept without its count, nor counted without being kept.
    outcome = case((status == OrderStatus.HELD, literal(ConfirmOutcome.HELD.value)),
                   (status == OrderStatus.LATE, literal(ConfirmOutcome.LATE.value)),
                   (status.is_not(None), literal(ConfirmOutcome.COUNTED.value)))
    kept = kept_events.kept_event(outcome, decided_here=True).cte("kept")
    return select(status.label("status"), select(kept.c.id).scalar_subquery().label("event_key")).add_cte(
        *ctes, kept)


NAMED = bindparam("confirm_named", type_=JSONB(none_as_null=True))  # None: SQL's NULL, not JSON's null
LATE_REASON = "paid after the lines closed and their grace, refunded: "  # then the provider's own status


def lateness() -> CTE:
    """Whether the pending vote order being counted was paid too late (`late_votes.is_late`: placed before the
    close, confirmed after its grace), read once (MATERIALIZED: the update reads it three times). An entry's fee buys
    no vote: the lines' close is not its rule."""
    orders, contests = tables.ORDERS_TABLE, tables.CONTESTS
    close = late_votes.order_close_in_sql(orders, contests)
    late = orders.c.candidate_id.is_not(None) & late_votes.late_in_sql(orders.c.created_at, holds.CONFIRMED_AT,
                                                                       close, contests, orders.c.client_key)
    return (select(orders.c.id, late.label("late"))
            .select_from(orders.join(contests, contests.c.id == orders.c.contest_id))
            .where(orders.c.id == bindparam("confirm_order"), tables.still_pending())
            .cte("lateness").prefix_with("MATERIALIZED"))


# Run by asyncpg itself (gateway.db.driver_statements): SQLAlchemy's part of running it was twice PostgreSQL's.
COUNTING_PARAMETERS = ("confirm_order", "confirm_amount", "confirm_currency", "confirm_txn", "confirm_status",
                       "confirm_provider", "confirm_now", "confirm_risk_points", "confirm_risk_reason", "confirm_named")
COUNTING_STATEMENT = DriverStatement(counting_statement(), COUNTING_PARAMETERS)
COUNTING_AND_QUEUEING = DriverStatement(counting_statement(verify_later=True), COUNTING_PARAMETERS)
KEEPING_PARAMETERS = COUNTING_PARAMETERS + kept_events.EVENT_PARAMETERS
COUNTING_AND_KEEPING = DriverStatement(counting_statement(keeping_event=True), KEEPING_PARAMETERS)
KEEPING_AND_QUEUEING = DriverStatement(counting_statement(verify_later=True, keeping_event=True), KEEPING_PARAMETERS)


async def _confirm_not_pending(
    session: AsyncSession, order_id: uuid.UUID, provider_status: str, amount: int, currency: str,
    provider_txn_id: str | None, provider: str, now: datetime | None = None,
) -> ConfirmOutcome:
    """The guarded update matched nothing: find out why, and flag what needs a person (a success after the order
    expired or failed, which also came after the lines closed and their grace, is late: refunded by itself)."""
    order = await session.get(VoteOrder, order_id, with_for_update=True)
    if order is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    if order.provider != provider:
        # Refused, not flagged: the order's own provider may still confirm it, and a flag would keep
        # that genuine payment out of the tally on the word of a provider that never took it.
        return ConfirmOutcome.OTHER_PROVIDER
    if order.status is OrderStatus.PENDING:
        reason = (f"amount mismatch: provider reported {money_text(amount, currency)}, "
                  f"order is {money_text(order.amount, order.currency)}")
    elif is_second_charge(order, provider_txn_id):
        await record_second_charge(session, order, provider_txn_id, amount, currency)
        return ConfirmOutcome.DUPLICATE_PAYMENT
    elif late_success_status(order.status) is None:
        return ConfirmOutcome.ALREADY_DECIDED
    elif order.amount == amount and order.currency == currency.upper() and await _paid_too_late(
            session, order, now or datetime.now(UTC)):
        return await _set_late(session, order, provider_status, provider_txn_id)
    else:
        reason = f"provider reported success ({provider_status}) after the order was {order.status.value}"
    order.status = OrderStatus.FLAGGED
    order.status_reason = reason
    order.provider_txn_id = provider_txn_id
    order.decided_at = datetime.now(UTC)
    await emit(session, "order.flagged", order_id=str(order_id), contest_id=order.contest_id)
    return ConfirmOutcome.FLAGGED


async def _paid_too_late(session: AsyncSession, order: VoteOrder, confirmed_at: datetime) -> bool:
    contest = await session.get(Contest, order.contest_id)
    if contest is None or order.candidate_id is None:
        return False
    close = await late_votes.order_close(session, contest, order.round_id)
    return late_votes.is_late(order.created_at, confirmed_at, close, contest.late_grace_seconds,
                              unasked=(order.client_key or "").startswith(late_votes.UNASKED_KEY))


async def _set_late(session: AsyncSession, order: VoteOrder, provider_status: str,
                    provider_txn_id: str | None) -> ConfirmOutcome:
    """A success for an expired or failed order, after the lines closed and their grace: late, as the counting
    statement makes one (never counted, refunded by itself, the voter told why)."""
    was = order.status.value
    order.status = OrderStatus.LATE
    order.status_reason = f"{LATE_REASON}{provider_status} (the order was {was})"
    order.provider_txn_id = provider_txn_id
    order.decided_at = datetime.now(UTC)
    if order.sends_receipt:
        await emit(session, LATE_RECEIPT_TOPIC, order_id=str(order.id), contest_id=order.contest_id)
    return ConfirmOutcome.LATE


def is_second_charge(order: VoteOrder, provider_txn_id: str | None) -> bool:
    """The provider reports another successful transaction for an order already paid (counted, held, or paid too
    late to count and being given back)."""
    return (order.status in (OrderStatus.PAID, OrderStatus.HELD, OrderStatus.LATE) and bool(provider_txn_id)
            and bool(order.provider_txn_id) and provider_txn_id != order.provider_txn_id)


async def record_second_charge(session: AsyncSession, order: VoteOrder, provider_txn_id: str | None, amount: int,
                               currency: str) -> None:
    """Never counted again, never silent: an audit entry and an outbox event for a person to refund."""
    details = {"provider": order.provider, "paid_txn": order.provider_txn_id, "second_txn": provider_txn_id,
               "amount": amount, "currency": currency.upper()}
    session.add(AuditEntry(actor="system", action="payment.duplicate", target=str(order.id), details=details))
    await emit(session, "payment.duplicate", order_id=str(order.id), contest_id=order.contest_id, **details)
