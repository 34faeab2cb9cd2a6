"""The vote core: orders are placed here and counted here, once, inside one transaction each."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Insert,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core import holds, ledger
from gateway.core.blocklist import inet_of
from gateway.core.errors import NotFound, RateLimited, VoteRejected
from gateway.core.outcomes import ConfirmOutcome, RefundSettled
from gateway.core.receipts import CHANNELS_WITHOUT_RECEIPTS, PAID_RECEIPT_TOPIC
from gateway.core.rules import check_order, late_success_status, normalise_optional
from gateway.db.engine import Sessions, autocommit, autocommit_connection
from gateway.db.models import (
    AuditEntry,
    BlockedAddress,
    BlockedMsisdn,
    Candidate,
    CandidateStatus,
    Contest,
    OrderStatus,
    OutboxMessage,
    PaymentVerification,
    VoteOrder,
)


@dataclass(frozen=True)
class OrderRequest:
    contest_slug: str
    candidate_code: str
    quantity: int
    provider: str
    channel: str  # the channel's name (gateway.db.models.Channel names the built-in ones)
    msisdn: str | None = None
    voter_ref: str | None = None
    client_key: str | None = None  # the channel's idempotency key for this client; kept scoped to the payer
    voter_address: str | None = None  # the web client's address, for the fraud rules (gateway.core.holds)
    language: str | None = None  # the voter's own language, where the channel knows it (for the receipt)


def stored_client_key(client_key: str, msisdn: str | None) -> str:
    """A client's idempotency key as the order keeps it: hashed with the payer's number, so another payer
    sending the same key gets an order of their own and never reads this one. The channels' keys name
    the contest where one key could serve two (`web:{slug}:{key}`). Keys kept before were the plain
    `channel:…` text, a shape these never take: old and new never meet, and old rows need no migration."""
    digest = hashlib.sha256(f"{payer_scope(msisdn)}\n{client_key}".encode()).hexdigest()
    return f"ck:{digest}"


def payer_scope(msisdn: str | None) -> str:
    """The payer's number as every order stores it; an unreadable one as sent (the order is refused anyway)."""
    try:
        return normalise_optional(msisdn) or ""
    except VoteRejected:
        return msisdn or ""


async def place_order(sessions: Sessions, request: OrderRequest, *, pending_ttl: timedelta) -> VoteOrder:
    """Create a pending order (or return the one already made for the same `client_key`).

    Two statements in one transaction: the contest and candidate (and an order already made with
    the same key), read while taking the payer's lock; then the insert, made only if the payer is
    not blocked and under the contest's limits (counted after the lock, so one payer's concurrent
    orders are counted exactly). Core statements on a bare connection: an ORM session's bookkeeping
    cost more than both statements' own work (the order comes back as a detached `VoteOrder`).
    """
    payer = payer_lock_key(request.msisdn)
    client_key = stored_client_key(request.client_key, request.msisdn) if request.client_key else None
    engine = sessions.kw["bind"]
    try:
        async with engine.begin() as connection:
            found = (await connection.execute(
                CONTEST_AND_CANDIDATE if payer is None else CONTEST_AND_CANDIDATE_LOCKING, {
                    "contest_slug": request.contest_slug, "candidate_code": request.candidate_code,
                    "payer_lock": payer, "replay_key": client_key,
                })).one_or_none()
            if found is None:
                raise NotFound(f"No contest is called {request.contest_slug!r}.", code="contest_not_found")
            if found.replayed is not None:  # the same key again: the order it made, whatever has changed since
                return detached_order((await connection.execute(ORDER_BY_ID, {"order_key": found.replayed})).one())
            contest = Contest(**{column.key: found._mapping[column.key] for column in CONTESTS.c})
            parameters = new_order(request, contest, found.candidate_id, found.candidate_status, client_key,
                                   pending_ttl)
            inserted = (await connection.execute(INSERT_ORDER, parameters)).one_or_none()
            if inserted is not None:
                order = detached_order(inserted)
                if reason := holds.reason_to_hold(contest.fraud_rules, inserted._mapping):  # paid, it will be held
                    await holds.keep_hold_reason(connection, order.id, reason)
                    order.hold_reason = reason
                return order
            if not client_key:
                await explain_refusal(connection, parameters)  # raises
    except IntegrityError:
        pass  # a concurrent request with the same client_key inserted first: its order, below
    # Made by a concurrent request with the same key (while we waited for the lock, or in a race).
    existing = await find_by_client_key(sessions, request.client_key or "", request.msisdn)
    if existing is not None:
        return existing
    async with engine.connect() as connection:
        await explain_refusal(connection, parameters)
    raise AssertionError("explain_refusal always raises")


def new_order(request: OrderRequest, contest: Contest, candidate_id: int | None,
              candidate_status: CandidateStatus | None, client_key: str | None,
              pending_ttl: timedelta) -> dict[str, Any]:
    """The checked order's insert parameters (a refusal raises here, before anything is written)."""
    now = datetime.now(UTC)
    checked = check_order(contest, candidate_status, request.candidate_code, request.quantity, request.provider,
                          request.msisdn, now, contest.stars_per_vote)
    assert candidate_id is not None  # check_order rejects a missing candidate
    order: dict[str, Any] = dict(
        id=uuid.uuid4(), payment_reference=uuid.uuid4(), client_key=client_key,
        contest_id=contest.id, candidate_id=candidate_id, quantity=checked.quantity,
        amount=checked.amount, currency=checked.currency, channel=request.channel,
        provider=checked.provider, voter_msisdn=checked.msisdn, voter_ref=request.voter_ref,
        voter_address=request.voter_address, language=request.language,
        status=OrderStatus.PENDING, expires_at=now + pending_ttl, provider_data={},
    )
    return insert_order_parameters(order, contest, now)


CONTESTS, CANDIDATES, ORDERS_TABLE = Contest.__table__, Candidate.__table__, VoteOrder.__table__
ORDER_BY_ID = select(ORDERS_TABLE).where(ORDERS_TABLE.c.id == bindparam("order_key"))


def detached_order(row: Row[Any]) -> VoteOrder:
    """A `VoteOrder` from a Core row of every column (attached to no session: read it, do not change it)."""
    return VoteOrder(**{column.key: row._mapping[column.key] for column in ORDERS_TABLE.c})


def payer_lock_key(msisdn: str | None) -> str | None:
    """The payer's lock name, from the number as every order stores it (None: nothing to lock)."""
    try:
        number = normalise_optional(msisdn)
    except VoteRejected:
        return None  # check_order refuses it
    return f"payer:{number}" if number else None


def contest_and_candidate(*, locking: bool) -> Select[Any]:
    """The contest by slug with the candidate's id and status by code (None if no such candidate) and the id
    of an order made with the replay key (None if none); `locking` also takes the payer's transaction lock
    in the same round trip."""
    lock = [func.pg_advisory_xact_lock(func.hashtext(bindparam("payer_lock", type_=String)))] if locking else []
    replayed = (select(ORDERS_TABLE.c.id).where(ORDERS_TABLE.c.client_key == bindparam("replay_key", type_=String))
                .scalar_subquery().label("replayed"))
    return (select(*CONTESTS.c, CANDIDATES.c.id.label("candidate_id"),
                   CANDIDATES.c.status.label("candidate_status"), replayed, *lock)
            .select_from(CONTESTS.outerjoin(
                CANDIDATES, (CANDIDATES.c.contest_id == CONTESTS.c.id)
                & (CANDIDATES.c.code == bindparam("candidate_code", type_=String))))
            .where(CONTESTS.c.slug == bindparam("contest_slug", type_=String)))


CONTEST_AND_CANDIDATE = contest_and_candidate(locking=False)
CONTEST_AND_CANDIDATE_LOCKING = contest_and_candidate(locking=True)
ORDER_COLUMNS = ("id", "payment_reference", "client_key", "contest_id", "candidate_id", "quantity", "amount",
                 "currency", "channel", "provider", "voter_msisdn", "voter_ref", "voter_address", "language", "status",
                 "expires_at", "provider_data")
NO_LIMIT = 2**31 - 1


def payer_standing() -> tuple[ColumnElement[bool], ColumnElement[int], ColumnElement[int], ColumnElement[bool]]:
    """Whether the payer is blocked, their orders in this contest in the last minute and day, and whether
    the client's address is blocked, as subqueries on the bound parameters of `insert_order_parameters`
    (shared by the insert that checks them and by the refusal that explains them). A missing number
    counts none, blocks nothing; so does a missing address."""
    orders = VoteOrder.__table__.c
    payer = bindparam("new_voter_msisdn", type_=String)
    mine = select(func.count()).where(orders.voter_msisdn == payer,
                                      orders.contest_id == bindparam("new_contest_id", type_=Integer))
    blocked = select(BlockedMsisdn.msisdn).where(BlockedMsisdn.msisdn == payer).exists()
    in_minute = mine.where(orders.created_at > bindparam("minute_ago", type_=DateTime(timezone=True)))
    in_day = mine.where(orders.created_at > bindparam("day_ago", type_=DateTime(timezone=True)))
    address = cast(bindparam("new_voter_inet", type_=String), INET)
    address_blocked = select(BlockedAddress.network).where(BlockedAddress.network.op(">>=")(address)).exists()
    return blocked, in_minute.scalar_subquery(), in_day.scalar_subquery(), address_blocked


def insert_order() -> Insert:
    """INSERT … SELECT the new order WHERE its payer is not blocked and under both limits: no row
    when not. Built once; parameters are named unlike any column (see `insert_order_parameters`)."""
    blocked, in_minute, in_day, address_blocked = payer_standing()
    allowed = and_(~blocked, ~address_blocked, in_minute < bindparam("per_minute", type_=Integer),
                   in_day < bindparam("per_day", type_=Integer))
    table = VoteOrder.__table__
    row = select(*(bindparam(f"new_{name}", type_=table.c[name].type) for name in ORDER_COLUMNS)).where(allowed)
    # The fraud figures around the order come back with it: no round trip added (see gateway.core.holds).
    return (insert(table).from_select(list(ORDER_COLUMNS), row)
            .returning(*table.c, *(figure.label(name) for name, figure in holds.FIGURES.items())))


INSERT_ORDER = insert_order()
PAYER_STANDING = select(*payer_standing())


def insert_order_parameters(order: dict[str, Any], contest: Contest, now: datetime) -> dict[str, Any]:
    return {**{f"new_{name}": order[name] for name in ORDER_COLUMNS},
            "new_voter_inet": inet_of(order["voter_address"]),
            "minute_ago": now - timedelta(minutes=1), "per_minute": contest.max_orders_per_minute or NO_LIMIT,
            "day_ago": now - timedelta(days=1), "per_day": contest.max_orders_per_day or NO_LIMIT}


async def explain_refusal(connection: AsyncConnection, parameters: dict[str, Any]) -> None:
    """Raise the reason the payer's order was not inserted: blocked, or over a limit."""
    blocked, in_minute, in_day, address_blocked = (await connection.execute(PAYER_STANDING, parameters)).one()
    if blocked:
        raise VoteRejected("This number cannot vote. Contact the organiser if you think this is a mistake.",
                           code="msisdn_blocked", field="msisdn")
    if address_blocked:
        raise VoteRejected("Votes from your connection are refused. Contact the organiser if you think this is "
                           "a mistake.", code="address_blocked")
    for count, limit, label in ((in_minute, parameters["per_minute"], "a minute"),
                                (in_day, parameters["per_day"], "a day")):
        if count >= limit:
            raise RateLimited(f"Too many votes from this number ({limit} in {label}). Please try again later.",
                              field="msisdn")
    # Only an organiser unblocking the number in between gets here: the voter may simply try again.
    raise RateLimited("Please try again in a moment.", field="msisdn")


async def find_by_client_key(sessions: Sessions, client_key: str, msisdn: str | None) -> VoteOrder | None:
    """The order this payer's client made with `client_key` (see `stored_client_key`)."""
    stored = stored_client_key(client_key, msisdn)
    async with autocommit(sessions) as session:
        return await session.scalar(select(VoteOrder).where(VoteOrder.client_key == stored))


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
    *,
    provider: str,
    verify_later: bool = False,
) -> ConfirmOutcome:
    """Count a provider-confirmed payment exactly once: pending → paid, tally, outbox, one commit.

    `provider` is who confirms: only an order of that provider is counted (a signed Stripe event
    naming an MTN order proves nothing about the MTN payment). `verify_later`: the order counted is
    queued for a status check in the same statement (a callback's word, verified after)."""
    async with autocommit_connection(sessions) as connection:
        counted = await count_if_pending(connection, order_id, provider_status, amount, currency, provider_txn_id,
                                         provider=provider, verify_later=verify_later)
    if counted is not None:
        return counted
    async with sessions.begin() as session:
        return await _confirm_not_pending(session, order_id, provider_status, amount, currency, provider_txn_id,
                                          provider)


async def count_if_pending(
    connection: AsyncConnection, order_id: uuid.UUID, provider_status: str, amount: int, currency: str,
    provider_txn_id: str | None, *, provider: str, verify_later: bool = False,
) -> ConfirmOutcome | None:
    """The common case of `confirm_payment` on a connection in autocommit mode: a pending order of this
    provider and amount is counted (or held); None when it is not (then `confirm_payment` finds out why).

    One statement, committed on its own: the tally row (every vote for a candidate meets there) is
    locked only while PostgreSQL runs it, never across a round trip to us."""
    counted = (await connection.execute(COUNTING_AND_QUEUEING if verify_later else COUNTING_STATEMENT, {
        "confirm_order": order_id, "confirm_amount": amount, "confirm_currency": currency.upper(),
        "confirm_txn": provider_txn_id, "confirm_status": provider_status, "confirm_provider": provider,
    })).one_or_none()
    if counted is None:
        return None
    return ConfirmOutcome.HELD if counted.status is OrderStatus.HELD else ConfirmOutcome.COUNTED


# A callback-counted order's status check waits this long: the provider's own records may lag its callback.
FIRST_VERIFY_AFTER = timedelta(seconds=30)


def counting_statement(*, verify_later: bool = False) -> Select[tuple[int, OrderStatus]]:
    """The guarded pending → paid update, its ledger entry, the tally increment and the outbox rows as one statement.

    A channel whose voter waits for a message (SMS, Telegram) also gets an `order.paid` row: the
    receipt is sent by a job, after the commit, once (see gateway.core.receipts).

    Built once, with bound parameters named unlike any column (a parameter named after a column
    of an UPDATE joins its SET clause): the hottest statement of a show night is not rebuilt and
    re-keyed for each vote.
    """
    orders = VoteOrder.__table__.c  # Core: an ORM update inside a CTE does not keep its bound parameters
    paid = (
        update(VoteOrder.__table__)
        .where(
            orders.id == bindparam("confirm_order"),
            orders.status == OrderStatus.PENDING,  # the guard that makes this idempotent
            orders.provider == bindparam("confirm_provider", type_=String),
            orders.amount == bindparam("confirm_amount"),
            orders.currency == bindparam("confirm_currency"),
        )
        # Paid, or held when a fraud rule fired (gateway.core.holds): a held order's votes wait for a person.
        .values(status=holds.paid_or_held(orders), hold_reason=holds.held_reason_now(orders),
                provider_txn_id=bindparam("confirm_txn", type_=String),
                decided_at=func.now(), status_reason=bindparam("confirm_status", type_=Text))
        .returning(orders.id, orders.contest_id, orders.candidate_id, orders.quantity, orders.amount, orders.currency,
                   orders.provider_txn_id, orders.channel, orders.status)
        .cte("paid")
    )
    is_paid = paid.c.status == OrderStatus.PAID
    # The ledger's entry (gateway.core.ledger) and the tally's increment made from it: one is never without the other.
    event = select(paid.c.contest_id, literal(ledger.EntryKind.COUNTED.value, String).label("kind"),
                   paid.c.id.label("order_id"), paid.c.candidate_id, paid.c.quantity, paid.c.amount, paid.c.currency,
                   paid.c.provider_txn_id).where(is_paid).cte("ledger_event")
    entry = ledger.append_ctes(event)
    counted = ledger.tally_added_from(entry)
    queued = insert(OutboxMessage).from_select(
        ["topic", "payload"],
        select(case((is_paid, literal("vote.confirmed")), else_=literal(holds.HELD_TOPIC)),
               func.jsonb_build_object("order_id", cast(paid.c.id, Text), "contest_id", paid.c.contest_id)),
    ).cte("queued")
    receipted = insert(OutboxMessage).from_select(
        ["topic", "payload"],
        select(literal(PAID_RECEIPT_TOPIC),
               func.jsonb_build_object("order_id", cast(paid.c.id, Text), "contest_id", paid.c.contest_id))
        # Comparisons, not NOT IN (…): a list parameter would re-render this statement for every vote.
        .where(*(paid.c.channel != channel for channel in CHANNELS_WITHOUT_RECEIPTS), is_paid),
    ).cte("receipted")
    ctes = [entry, counted, queued, receipted]
    if verify_later:  # callback verification: the order joins the queue with its count, or neither
        ctes.append(insert(PaymentVerification).from_select(
            ["order_id", "due_at"], select(paid.c.id, func.now() + FIRST_VERIFY_AFTER)).cte("verifying"))
    return select(paid.c.contest_id, paid.c.status).add_cte(*ctes)


COUNTING_STATEMENT = counting_statement()
COUNTING_AND_QUEUEING = counting_statement(verify_later=True)


async def _confirm_not_pending(
    session: AsyncSession, order_id: uuid.UUID, provider_status: str, amount: int, currency: str,
    provider_txn_id: str | None, provider: str,
) -> ConfirmOutcome:
    """The guarded update matched nothing: find out why, and flag what needs a person."""
    order = await session.get(VoteOrder, order_id, with_for_update=True)
    if order is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    if order.provider != provider:
        # Refused, not flagged: the order's own provider may still confirm it, and a flag would keep
        # that genuine payment out of the tally on the word of a provider that never took it.
        return ConfirmOutcome.OTHER_PROVIDER
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
    """The provider reports another successful transaction for an order already paid (counted, or held)."""
    return (order.status in (OrderStatus.PAID, OrderStatus.HELD) and bool(provider_txn_id)
            and bool(order.provider_txn_id) and provider_txn_id != order.provider_txn_id)


async def record_second_charge(session: AsyncSession, order: VoteOrder, provider_txn_id: str | None, amount: int,
                               currency: str) -> None:
    """Never counted again, never silent: an audit entry and an outbox event for a person to refund."""
    details = {"provider": order.provider, "paid_txn": order.provider_txn_id, "second_txn": provider_txn_id,
               "amount": amount, "currency": currency.upper()}
    session.add(AuditEntry(actor="system", action="payment.duplicate", target=str(order.id), details=details))
    await _emit(session, "payment.duplicate", order_id=str(order.id), contest_id=order.contest_id, **details)


async def _emit(session: AsyncSession, topic: str, **payload: Any) -> None:
    await session.execute(insert(OutboxMessage).values(topic=topic, payload=payload))


async def _close_pending(sessions: Sessions, order_id: uuid.UUID, status: OrderStatus, reason: str) -> bool:
    """Write a terminal non-paid state once; returns whether this call wrote it."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VoteOrder)
            .where(VoteOrder.id == order_id, VoteOrder.status == OrderStatus.PENDING)
            .values(status=status, status_reason=reason, decided_at=func.now(), start_lease_until=None)
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
    """Fail a pending order no start ever tried (the voter left before the push). Once one tried,
    the prompt may be on the phone even if the start failed or is still under way: the order is
    left to its provider's answer, or a payer who approves would be charged for a vote never counted."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VoteOrder)
            .where(VoteOrder.id == order_id, VoteOrder.status == OrderStatus.PENDING,
                   VoteOrder.payment_started_at.is_(None), VoteOrder.start_attempted_at.is_(None))
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


NOT_COUNTED_YET = (OrderStatus.PENDING, OrderStatus.EXPIRED, OrderStatus.FAILED)  # a later "paid" may count these


async def settle_refund(sessions: Sessions, order_id: uuid.UUID, refunded: int | None, currency: str | None,
                        provider_txn_id: str | None) -> RefundSettled:
    """A refund the provider reports, in any state of the order: never dropped, never leaves its money counted.

    In full (or of an unknown amount): the order ends `refunded`, leaving the tally if it was counted; one
    not counted yet goes straight there, so a "paid" arriving later finds it decided. In part (made by hand,
    e.g. in Stripe's dashboard): which votes that money stood for is a person's call, so the refund is
    recorded for review (audit entry + outbox), a counted order keeps its votes, and an order not counted
    yet is flagged so that it never is. A refund in another currency cannot be compared: a person's call too.
    One transaction on the locked order row: safe to repeat, and a crash inside it changes nothing.
    """
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        if order is None:
            raise NotFound("No vote order has that id.", code="order_not_found")
        if order.status is OrderStatus.REFUNDED:
            return RefundSettled.ALREADY_DECIDED
        refund_currency = (currency or order.currency).upper()
        if refunded is None or (refund_currency == order.currency and refunded >= order.amount):
            await _refund_in_full(session, order, provider_txn_id)
            return RefundSettled.REFUNDED
        if not await _partial_refund_recorded(session, order_id, refunded):  # else: the same event settled again
            await _record_partial_refund(session, order, refunded, refund_currency)
        if order.status in NOT_COUNTED_YET:
            await _flag_partly_refunded(session, order, f"{refunded} {refund_currency}", provider_txn_id)
        return RefundSettled.PARTIAL_REFUND


async def _flag_partly_refunded(session: AsyncSession, order: VoteOrder, refund: str,
                                provider_txn_id: str | None) -> None:
    """Set an order not counted yet aside for good: a later "paid" must not count money partly given back."""
    order.status = OrderStatus.FLAGGED
    order.status_reason = (f"partial refund of {refund} by the provider before it was counted "
                           f"(order is {order.amount} {order.currency}): a person decides")
    order.provider_txn_id = order.provider_txn_id or provider_txn_id
    order.decided_at = datetime.now(UTC)
    order.start_lease_until = None
    await _emit(session, "order.flagged", order_id=str(order.id), contest_id=order.contest_id)


async def _refund_in_full(session: AsyncSession, order: VoteOrder, provider_txn_id: str | None) -> None:
    """Move a not-yet-refunded order to `refunded`; only a paid one has votes to take off."""
    if order.status is OrderStatus.PAID:
        order.provider_txn_id = order.provider_txn_id or provider_txn_id
        await ledger.append_event(session, ledger.EntryKind.REFUNDED, order, sign=-1)  # and the tally
        await _emit(session, "vote.uncounted", order_id=str(order.id), contest_id=order.contest_id)
        reason = "refunded by the provider"
    elif order.status is OrderStatus.REFUND_REQUESTED:
        reason = "refunded by the provider"
    else:  # pending, expired, failed or flagged: never counted, and now it never will be
        was = f"{order.status.value}: {order.status_reason}" if order.status_reason else order.status.value
        reason = f"refunded in full by the provider before it was counted (it was {was})"
        order.decided_at = datetime.now(UTC)
        order.start_lease_until = None
        await _emit(session, "order.refunded", order_id=str(order.id), contest_id=order.contest_id)
    order.provider_txn_id = order.provider_txn_id or provider_txn_id
    order.status = OrderStatus.REFUNDED
    order.status_reason = reason


async def _record_partial_refund(session: AsyncSession, order: VoteOrder, refunded: int, currency: str) -> None:
    details = {"provider": order.provider, "refunded": refunded, "amount": order.amount, "currency": currency,
               "order_currency": order.currency, "order_status": order.status.value}
    session.add(AuditEntry(actor="system", action="payment.partial_refund", target=str(order.id), details=details))
    await _emit(session, "payment.partial_refund", order_id=str(order.id), contest_id=order.contest_id, **details)


async def _partial_refund_recorded(session: AsyncSession, order_id: uuid.UUID, refunded: int) -> bool:
    """Stripe reports the refunded total, so one total recorded before is the same refund seen again."""
    return bool(await session.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "payment.partial_refund", AuditEntry.target == str(order_id),
        AuditEntry.details["refunded"].as_integer() == refunded).limit(1)))


async def uncount(sessions: Sessions, order_id: uuid.UUID, to: OrderStatus, reason: str,
                  note: Callable[[OrderStatus], AuditEntry] | None = None) -> OrderStatus:
    """Move a paid (or refund-requested) order to a refund state; a paid one leaves the tally. Returns the status
    the order ends in: `to`, or the one it already had where it could not move (a provider's refund webhook
    settled it first). `note` makes the audit row of that end state, kept in the same transaction, so a crash
    never leaves the votes off the board and the money gone with no record of who and why."""
    allowed = {OrderStatus.REFUND_REQUESTED: {OrderStatus.PAID},
               OrderStatus.REFUNDED: {OrderStatus.PAID, OrderStatus.REFUND_REQUESTED}}[to]
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        if order is None:
            raise NotFound("No vote order has that id.", code="order_not_found")
        if order.status in allowed:
            if order.status is OrderStatus.PAID:
                await ledger.append_event(session, ledger.EntryKind.REFUNDED, order, sign=-1)  # and the tally
                await _emit(session, "vote.uncounted", order_id=str(order_id), contest_id=order.contest_id)
            order.status = to
            order.status_reason = reason
        if note is not None:
            session.add(note(order.status))
        return order.status
