"""Placing an order: checked, limited and inserted inside one transaction under the payer's lock."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Insert,
    Integer,
    Interval,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.core.contests.rules import check_order, normalise_optional
from gateway.core.errors import NotFound, RateLimited, VoteRejected
from gateway.core.fraud import fraud_counters, holds
from gateway.core.orders import cut_commits
from gateway.core.orders.tables import CANDIDATES, CONTESTS, ORDER_BY_ID, ORDERS_TABLE, detached_order, order_of
from gateway.core.providers import Capability
from gateway.core.voters.blocklist import inet_of
from gateway.db.driver_statements import DriverStatement, driver_transaction
from gateway.db.engine import Sessions, autocommit, autocommit_connection
from gateway.db.failover import PRIMARY_WAIT_SECONDS, primary_lost, through_failover
from gateway.db.loaded import as_loaded
from gateway.db.models import (
    BlockedAddress,
    BlockedMsisdn,
    CandidateStatus,
    Contest,
    OrderStatus,
    VoteOrder,
)


@dataclass(frozen=True)
class PlacedOrder:
    """An order, and whether this call inserted it (a replay's order was made before), with the names its
    payment's line needs (`gateway.core.money_in.collections.describe`)."""

    order: VoteOrder
    inserted: bool
    contest_name: str = ""
    candidate_name: str | None = None


log = logging.getLogger(__name__)


class OrderLanded(Exception):
    """An insert ran into the order's own id: an earlier attempt, whose COMMIT was cut, landed after all."""


class NotInserted(Exception):
    """The insert added no order: its transaction ends rolled back, the fraud counters' share of it with it."""


@dataclass(frozen=True)
class OrderRequest:
    contest_slug: str
    candidate_code: str
    quantity: int
    provider: str
    channel: str  # the name of the channel it came through (its `ChannelParts.name`)
    msisdn: str | None = None
    voter_ref: str | None = None
    client_key: str | None = None  # the channel's idempotency key for this client; kept scoped to the payer
    voter_address: str | None = None  # the web client's address, for the fraud rules (gateway.core.fraud.holds)
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


async def place_order(sessions: Sessions, request: OrderRequest, *, capabilities: Set[Capability],
                      pending_ttl: timedelta, sends_receipt: bool = False, now: datetime | None = None,
                      primary_wait: float = PRIMARY_WAIT_SECONDS) -> VoteOrder:
    """Create a pending order (or return the one already made for the same `client_key`): `placed_order`'s."""
    placed = await placed_order(sessions, request, capabilities=capabilities, pending_ttl=pending_ttl,
                                sends_receipt=sends_receipt, now=now, primary_wait=primary_wait)
    return placed.order


async def placed_order(sessions: Sessions, request: OrderRequest, *, capabilities: Set[Capability],
                       pending_ttl: timedelta, sends_receipt: bool = False, now: datetime | None = None,
                       start_lease: timedelta | None = None, primary_wait: float = PRIMARY_WAIT_SECONDS,
                       ) -> PlacedOrder:
    """`placed_once`'s order, through a failover: an insert cut by the primary's loss is looked up where it is durable
    once a primary takes statements again, and made again under the same id if it is not there (`cut_commits`).
    `PrimaryUnavailable` when no primary came within `primary_wait` seconds (0: at the first failure)."""
    now = now or datetime.now(UTC)
    identity = cut_commits.OrderIdentity.new()
    deadline = time.monotonic() + primary_wait  # one wait for the whole placement, the lookups' included

    async def attempt() -> PlacedOrder:
        try:
            return await placed_once(sessions, request, capabilities=capabilities, pending_ttl=pending_ttl,
                                     sends_receipt=sends_receipt, now=now, start_lease=start_lease, identity=identity)
        except Exception as exc:
            if not (primary_lost(exc) or isinstance(exc, OrderLanded)):
                raise
            cut = exc
        log.warning("an order's insert was cut (%s): looking for it on the primary", type(cut).__name__)
        found = await through_failover(partial(cut_commits.durable_order, sessions, identity.id),
                                       what="looking for an order whose insert was cut",
                                       wait_seconds=max(0.0, deadline - time.monotonic()))
        if found is None:
            raise cut  # not there: made again by the next attempt
        return PlacedOrder(found.order, True, found.contest_name, found.candidate_name)

    return await through_failover(attempt, what="placing an order", wait_seconds=primary_wait)


async def placed_once(sessions: Sessions, request: OrderRequest, *, capabilities: Set[Capability],
                      pending_ttl: timedelta, sends_receipt: bool, now: datetime, start_lease: timedelta | None,
                      identity: cut_commits.OrderIdentity) -> PlacedOrder:
    """Create a pending order (or return the one already made for the same `client_key`).

    Two statements in one transaction: the contest and candidate (and an order already made with
    the same key), read while taking the payer's lock; then the insert, made only if the payer is
    not blocked and under the contest's limits (counted after the lock, so one payer's concurrent
    orders are counted exactly). Run by asyncpg itself in a transaction begun on it (`driver_transaction`): an ORM
    session's bookkeeping, and SQLAlchemy's execution of Core statements, cost more than the statements' own work (the
    order comes back as a detached `VoteOrder`). Between them the
    order is added to the fraud rules' counters, which give the figures it is judged by (rolled back with a refusal).
    `capabilities`: what the order's provider declares (`Providers.capabilities`: whether it charges a phone's
    wallet, or is paid in the chat). `now`: when it is placed (a replay of a show night passes its own clock).
    `start_lease`: the new order is
    inserted leased for its payment's start (`gateway.core.money_in.starting.ClaimedStart`), which saves the start
    its claim; only for a start about to run in this process, which then must run it or give the lease back.
    `identity`: the new order's id and reference, made by the caller (the same in each attempt of one placement).
    """
    payer = payer_lock_key(request.msisdn)
    client_key = stored_client_key(request.client_key, request.msisdn) if request.client_key else None
    engine = sessions.kw["bind"]
    try:
        async with autocommit_connection(sessions) as connection, driver_transaction(connection):
            statement = CONTEST_AND_CANDIDATE if payer is None else CONTEST_AND_CANDIDATE_LOCKING
            row = await statement.fetchrow(connection, {
                "contest_slug": request.contest_slug, "candidate_code": request.candidate_code,
                "payer_lock": payer, "replay_key": client_key})
            if row is None:
                raise NotFound(f"No contest is called {request.contest_slug!r}.", code="contest_not_found")
            found = statement.typed(connection, row)
            if found["replayed"] is not None:  # the same key again: the order it made, whatever has changed since
                replayed = (await connection.execute(ORDER_BY_ID, {"order_key": found["replayed"]})).one()
                return PlacedOrder(detached_order(replayed), inserted=False)
            contest = as_loaded(Contest, found)
            parameters = new_order(request, capabilities, contest, found["candidate_id"], found["candidate_status"],
                                   client_key, pending_ttl, sends_receipt, now, identity)
            parameters["start_lease"] = start_lease
            parameters.update(await judged(connection, contest, parameters, now))
            inserting = insert_for(parameters)
            inserted = await inserting.fetchrow(connection, parameters)
            if inserted is not None:
                return PlacedOrder(order_of(inserting.typed(connection, inserted)), True, contest.name,
                                   found["candidate_name"])
            if not client_key:
                await explain_refusal(connection, parameters)  # raises
            raise NotInserted  # rolls back what the order added to the counters
    except IntegrityError as exc:
        if await order_exists(sessions, identity.id):  # an attempt before this one landed after all
            raise OrderLanded from exc
    except NotInserted:
        pass  # a concurrent request with the same client_key inserted first (its order, below), or a refusal
    # Made by a concurrent request with the same key (while we waited for the lock, or in a race).
    existing = await find_by_client_key(sessions, request.client_key or "", request.msisdn)
    if existing is not None:
        return PlacedOrder(existing, inserted=False)
    async with engine.connect() as connection:
        await explain_refusal(connection, parameters)
    raise AssertionError("explain_refusal always raises")


def new_order(request: OrderRequest, capabilities: Set[Capability], contest: Contest, candidate_id: int | None,
              candidate_status: CandidateStatus | None, client_key: str | None,
              pending_ttl: timedelta, sends_receipt: bool, now: datetime,
              identity: cut_commits.OrderIdentity) -> dict[str, Any]:
    """The checked order's insert parameters (a refusal raises here, before anything is written); `sends_receipt`:
    its channel messages the voter the outcome (the VoteService knows which channels do)."""
    checked = check_order(contest, candidate_status, request.candidate_code, request.quantity, request.provider,
                          capabilities, request.msisdn, now, contest.stars_per_vote)
    assert candidate_id is not None  # check_order rejects a missing candidate
    order: dict[str, Any] = dict(
        id=identity.id, payment_reference=identity.payment_reference, client_key=client_key,
        contest_id=contest.id, round_id=contest.current_round_id, candidate_id=candidate_id,
        quantity=checked.quantity,
        amount=checked.amount, currency=checked.currency, channel=request.channel,
        provider=checked.provider, voter_msisdn=checked.msisdn, voter_ref=request.voter_ref,
        voter_address=request.voter_address, language=request.language, sends_receipt=sends_receipt,
        status=OrderStatus.PENDING, expires_at=now + pending_ttl, provider_data={},
        fraud_figures=None, fraud_score=None, hold_reason=None,  # judged after the checks (`judged`)
        created_at=now,  # the clock its limits and counters were judged by
    )
    return insert_order_parameters(order, contest, now)


async def judged(connection: AsyncConnection, contest: Contest, parameters: dict[str, Any],
                 now: datetime) -> dict[str, Any]:
    """The order counted by the fraud rules' counters, and what its figures make of it: kept by its insert (once
    paid, an order with a hold reason is held)."""
    facts = fraud_counters.OrderFacts(
        contest.id, parameters["new_voter_msisdn"], parameters["new_voter_address"],
        fraud_counters.voter_of(parameters["new_channel"], parameters["new_voter_ref"]), parameters["new_candidate_id"],
        parameters["new_quantity"])
    counted = await fraud_counters.count_order(connection, facts, now)
    figures, verdict = holds.judge_placement(contest.fraud_rules, counted, facts.address)
    # The payer's orders before this one in the minute and the day are at most these: below the contest's limits,
    # the insert need not count them (the counters are the payer's, kept under the same lock, in this transaction).
    return {"new_fraud_figures": figures, "new_fraud_score": verdict.score, "new_hold_reason": verdict.reason(),
            "minute_at_most": counted.at_most["payer_orders_minute"] - 1,
            "day_at_most": counted.at_most["payer_orders_day"] - 1}


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
    return (select(*CONTESTS.c, CANDIDATES.c.id.label("candidate_id"), CANDIDATES.c.status.label("candidate_status"),
                   CANDIDATES.c.name.label("candidate_name"), replayed, *lock)
            .select_from(CONTESTS.outerjoin(
                CANDIDATES, (CANDIDATES.c.contest_id == CONTESTS.c.id)
                & (CANDIDATES.c.code == bindparam("candidate_code", type_=String))))
            .where(CONTESTS.c.slug == bindparam("contest_slug", type_=String)))


# The placement's statements are run by asyncpg itself, in a transaction begun on it (gateway.db.driver_statements):
# SQLAlchemy's part of running them was most of the web process's CPU for the placement's statements.
CONTEST_PARAMETERS = ("contest_slug", "candidate_code", "payer_lock", "replay_key")
CONTEST_AND_CANDIDATE = DriverStatement(contest_and_candidate(locking=False), CONTEST_PARAMETERS[:2] + ("replay_key",))
CONTEST_AND_CANDIDATE_LOCKING = DriverStatement(contest_and_candidate(locking=True), CONTEST_PARAMETERS)
ORDER_COLUMNS = ("id", "payment_reference", "client_key", "contest_id", "round_id", "candidate_id", "quantity",
                 "amount", "currency", "channel", "sends_receipt", "provider", "voter_msisdn", "voter_ref",
                 "voter_address", "language", "status", "expires_at", "provider_data", "fraud_figures", "fraud_score",
                 "hold_reason", "created_at")
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


def insert_order(*, counting_limits: bool = True) -> Insert:
    """INSERT … SELECT the new order WHERE its payer is not blocked and under both limits: no row
    when not. Built once; parameters are named unlike any column (see `insert_order_parameters`).

    Without `counting_limits`, for an order whose payer's counters say both limits are far: the same insert with no
    count in it. Not one statement for both: PostgreSQL folds the counts away only in a plan made for the values
    at hand, so it planned that statement afresh for every order (a generic plan keeps them, and costs more)."""
    blocked, in_minute, in_day, address_blocked = payer_standing()
    per_minute, per_day = bindparam("per_minute", type_=Integer), bindparam("per_day", type_=Integer)
    # Counted only when the payer's counters say the limit may be near (CASE evaluates its subquery only then): a
    # payer's cost does not grow with their orders of the day.
    allowed = and_(~blocked, ~address_blocked,
                   case((bindparam("minute_at_most", type_=Integer) < per_minute, True),
                        else_=in_minute < per_minute),
                   case((bindparam("day_at_most", type_=Integer) < per_day, True), else_=in_day < per_day))
    if not counting_limits:
        allowed = and_(~blocked, ~address_blocked)
    table = VoteOrder.__table__
    # Leased by the database's clock, as a start's claim is (`gateway.core.money_in.starting.CLAIM_START`): NULL,
    # not leased, when no lease is asked for.
    lease = bindparam("start_lease", type_=Interval)
    leased = (func.now() + lease, case((lease.is_not(None), func.now())))
    values = (bindparam(f"new_{name}", type_=table.c[name].type) for name in ORDER_COLUMNS)
    row = select(*values, *leased).where(allowed)
    columns = [*ORDER_COLUMNS, "start_lease_until", "start_attempted_at"]
    return insert(table).from_select(columns, row).returning(*table.c)


INSERT_PARAMETERS = (*(f"new_{name}" for name in ORDER_COLUMNS), "new_voter_inet", "minute_ago", "per_minute",
                     "day_ago", "per_day", "minute_at_most", "day_at_most", "start_lease")
INSERT_ORDER = DriverStatement(insert_order(), INSERT_PARAMETERS)
INSERT_ORDER_FAR_FROM_LIMITS = DriverStatement(insert_order(counting_limits=False), INSERT_PARAMETERS)
PAYER_STANDING = select(*payer_standing())


def insert_for(parameters: dict[str, Any]) -> DriverStatement:
    """The insert that counts the payer's orders only when their counters say a limit may be near."""
    far = (parameters["minute_at_most"] is not None and parameters["minute_at_most"] < parameters["per_minute"]
           and parameters["day_at_most"] is not None and parameters["day_at_most"] < parameters["per_day"])
    return INSERT_ORDER_FAR_FROM_LIMITS if far else INSERT_ORDER


def insert_order_parameters(order: dict[str, Any], contest: Contest, now: datetime) -> dict[str, Any]:
    return {**{f"new_{name}": order[name] for name in ORDER_COLUMNS},
            "new_voter_inet": inet_of(order["voter_address"]),
            "minute_ago": now - timedelta(minutes=1), "per_minute": contest.max_orders_per_minute or NO_LIMIT,
            "day_ago": now - timedelta(days=1), "per_day": contest.max_orders_per_day or NO_LIMIT,
            "minute_at_most": None, "day_at_most": None,  # unknown until the counters are read (`judged`)
            "start_lease": None}


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


async def order_exists(sessions: Sessions, order_id: uuid.UUID) -> bool:
    async with autocommit(sessions) as session:
        return await session.scalar(select(VoteOrder.id).where(VoteOrder.id == order_id)) is not None


async def find_by_client_key(sessions: Sessions, client_key: str, msisdn: str | None) -> VoteOrder | None:
    """The order this payer's client made with `client_key` (see `stored_client_key`)."""
    stored = stored_client_key(client_key, msisdn)
    async with autocommit(sessions) as session:
        return await session.scalar(select(VoteOrder).where(VoteOrder.client_key == stored))
