"""Starting an order's payment: once, under a lease, with no database connection held during the
provider's call; at once for a payment page (`start_for_page`), else by the start queue after the reply."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import DateTime, Interval, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB

from gateway.core.contests import late_votes
from gateway.core.errors import DomainError, NotFound, VoteRejected
from gateway.core.money_in.collections import KEPT_DURING_START, collection_of, kept_during_start
from gateway.core.money_in.reasons import readable_reason
from gateway.core.orders import closing, tables
from gateway.core.orders.count_batches import CountBatches
from gateway.core.orders.outcomes import Outcome
from gateway.core.orders.placing import PlacedOrder
from gateway.core.providers import Capability, Collection, PaymentError, PaymentProvider, Providers, StartResult
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit, autocommit_connection
from gateway.db.models import OrderStatus, ProviderEvent, VoteOrder

log = logging.getLogger(__name__)

class PaymentUnavailable(DomainError):
    status = 503
    code = "payment_unavailable"

@dataclass(frozen=True)
class StartOutcome:
    order_id: uuid.UUID
    status: OrderStatus
    redirect_url: str | None = None
    message: str | None = None

async def keep_start_data(sessions: Sessions, order_id: uuid.UUID, provider: str, data: Mapping[str, Any]) -> None:
    """Commit provider data at once, on its own connection: if the process dies before the start
    is recorded, the next start resumes with it."""
    async with autocommit(sessions) as session:
        await session.execute(insert(ProviderEvent).values(
            provider=provider, order_id=order_id, kind=KEPT_DURING_START, headers={}, body=json.dumps(dict(data)),
            outcome=Outcome.KEPT))


def provider_for(registry: Providers, provider: str, channel: str) -> PaymentProvider:
    """The implementation that serves `provider` on `channel`, or a clear refusal."""
    try:
        return registry.for_order(provider, channel)
    except PaymentError as exc:
        raise VoteRejected("This payment method is not available right now.", code="provider_unavailable",
                           field="provider") from exc


def needs_redirect(registry: Providers, provider: str, channel: str) -> bool:
    """Whether an order's payment happens on the provider's page (rather than a phone prompt). A provider
    switched off since the order was placed: the order is still shown, as a page's payment where it pays only by
    its page (a card's), as a prompt's otherwise."""
    try:
        return registry.for_order(provider, channel).redirects
    except PaymentError:
        capabilities = registry.capabilities(provider)
        return Capability.REDIRECT in capabilities and Capability.PHONE_PROMPT not in capabilities


# A provider's start can take this long (MTN: four 15 s attempts and their back-off) before we give up
# on it; the lease that keeps a second start away outlives it, so two starts never overlap.
# The deadline counts from before the claim, so the margin covers the claim's own round trip, pool
# waits and event-loop stalls: only a pause of over 40 s could let a second start in.
START_DEADLINE_SECONDS = 80.0
START_LEASE = timedelta(seconds=120)


def time_to_pay(pending_ttl: timedelta, window: timedelta) -> timedelta:
    """How long a new order waits for its payment: the service's own time, or the provider's window counted from
    its start, which nearly always comes within a second of the order (the prompt is sent just after the reply).
    With that room the start's record leaves the expiry alone (`RECORD_START`), and an update that changes no
    indexed column stays on the order's page (HOT), without a new entry in each of the table's indexes; a start
    slower than the room (or a late one, by the reconciler) moves the expiry itself."""
    return max(pending_ttl, window + START_ROOM)


START_ROOM = timedelta(seconds=30)


@dataclass(frozen=True)
class ClaimedStart:
    """A start whose lease the order's own insert took (`placing.placed_order(start_lease=START_LEASE)`): the order
    and its collection in hand, so the start makes no claim of its own, a statement and a commit fewer a vote.
    `deadline` (the loop's time) counts from before the insert, as a claim's does from before the claim."""

    lease: datetime
    order: VoteOrder
    collection: Collection
    deadline: float


def claimed_at_placement(placed: PlacedOrder, placed_at: float) -> ClaimedStart | None:
    """The start an order's insert leased (None for a replay's order, or one inserted unleased); `placed_at`: the
    loop's time before the insert."""
    lease = placed.order.start_lease_until
    if not placed.inserted or lease is None:
        return None
    order, collection = collection_of(placed.order, placed.contest_name, placed.candidate_name, [])
    return ClaimedStart(lease, order, collection, placed_at + START_DEADLINE_SECONDS)


def spent(claimed: ClaimedStart) -> ClaimedStart:
    """The lease after an attempt used it: a retry renews it, or claims the order anew if the attempt gave it back
    (`fresh_claim`), never calls the provider on it as it is."""
    return replace(claimed, deadline=float("-inf"))


# A start leased at placement that waited longer than this for its turn gives the lease back and claims a new one,
# so that the provider's call keeps (nearly) all of START_DEADLINE_SECONDS.
CLAIM_KEPT_SECONDS = 5.0


async def start_payment(sessions: Sessions, registry: Providers, order_id: uuid.UUID,
                        claimed: ClaimedStart | None = None, *,
                        records: CountBatches | None = None) -> StartOutcome | None:
    """Start the order's collection once; a retryable provider error propagates (retry later,
    same reference), any other fails the order with the provider's reason. None: another start
    holds the order right now (the reconciler does not wait out someone else's provider call).

    Claim, call, record: the claim is a lease on the order row (one statement), the provider is
    called with no database connection held, and the answer is recorded in one more statement. A
    crash in between leaves the lease to run out, after which the reconciler starts the order again.

    A crash between the provider's answer and the record loses what it answered. For a payment page
    (WebPay, Checkout) that is safe: the page reaches the payer only in this request's reply, after
    the record. Checkout's restart gets the same session (same idempotency key); WebPay refuses a
    reused order id, so it keeps each attempt (then its page) through `Collection.remember` and a
    restart opens a page under an order id of its own, every page still found by a status check.
    For an MTN prompt too: a restart uses the same reference and MTN answers 409. Orange's
    push has no such reference (a new payToken per start), so it keeps its payToken through
    `Collection.remember` before sending the prompt, and a later start or status check finds it.

    `claimed`: the lease the order's insert took for this start (`ClaimedStart`), used instead of a claim.
    `records`: the process's group commit for the starts' records (`record_start`), if it has one.
    """
    claimed = await fresh_claim(sessions, order_id, claimed)
    if claimed is None:
        return await unclaimed_outcome(sessions, order_id)
    lease, order, collection, deadline = claimed.lease, claimed.order, claimed.collection, claimed.deadline
    provider = registry.for_order(order.provider, order.channel)
    try:
        collection = replace(collection, remember=partial(keep_start_data, sessions, order.id, order.provider))
        result = await call_start(provider, collection, deadline)
    except PaymentError as exc:
        if exc.retryable:
            await release_start(sessions, order_id, lease)
            raise
        log.info("payment start refused for %s: %s", order_id, exc)
        # Failed in the statement that drops the lease: no other start can claim it in between.
        await closing.fail_order(sessions, order_id, exc.message)
        return StartOutcome(order_id, OrderStatus.FAILED, message=exc.message)
    except Exception:
        await release_start(sessions, order_id, lease)
        raise
    # Not recorded only if it outlived its lease:
    if not await record_start(sessions, order, result, provider.payment_window, records):
        return await unclaimed_outcome(sessions, order_id)  # the start that was recorded stands
    return StartOutcome(order.id, order.status, result.redirect_url)


async def call_start(provider: PaymentProvider, collection: Collection, deadline: float) -> StartResult:
    """The provider's start, cut off (at a loop time) before the lease that guards it runs out."""
    try:
        async with asyncio.timeout_at(deadline):
            return await provider.start(collection)
    except TimeoutError as exc:
        raise PaymentError(provider.name, "start_timeout", "The provider did not finish the start in time.",
                           retryable=True) from exc


async def fresh_claim(sessions: Sessions, order_id: uuid.UUID, claimed: ClaimedStart | None) -> ClaimedStart | None:
    """The placement's lease while it is fresh, else one claimed now (None: not to be started now). A lease that
    waited (for a slot, or a retry) is renewed in the claim's one statement: given back first, a failure between
    the two would leave the order held by a lease nobody uses."""
    loop = asyncio.get_running_loop()
    if claimed is not None and claimed.deadline - loop.time() >= START_DEADLINE_SECONDS - CLAIM_KEPT_SECONDS:
        return claimed
    own = claimed.lease if claimed is not None else None
    return await claim_start(sessions, order_id, loop.time() + START_DEADLINE_SECONDS, own_lease=own)


async def claim_start(sessions: Sessions, order_id: uuid.UUID, deadline: float, *,
                      own_lease: datetime | None = None) -> ClaimedStart | None:
    """Lease a pending, never-started order for one start, and load it in the same statement; None
    when it is not to be started now. `deadline`: the loop's time by which the start must be over; `own_lease`: a
    lease this start holds already (from the order's placement), renewed as if it had run out."""
    async with autocommit_connection(sessions) as connection:  # Core: see placing.place_order
        row = (await connection.execute(CLAIM_START, {"order_key": order_id, "own_lease": own_lease})).one_or_none()
    if row is None:
        return None
    if row.candidate_id is not None and row.lines_closed:  # no vote is taken once the lines closed: no prompt
        await closing.fail_order(sessions, order_id, readable_reason(LINES_CLOSED))
        return None
    order, collection = collection_of(tables.detached_order(row), row.contest_name, row.candidate_name, row.kept)
    assert order.start_lease_until is not None
    return ClaimedStart(order.start_lease_until, order, collection, deadline)


_ORDERS, _CONTESTS, _CANDIDATES = tables.ORDERS_TABLE, tables.CONTESTS, tables.CANDIDATES
# A subquery, not a join: an entry's fee has no candidate, and its start must still claim it.
_CANDIDATE_NAME = select(_CANDIDATES.c.name).where(_CANDIDATES.c.id == _ORDERS.c.candidate_id).scalar_subquery()
CLAIM_START = (update(_ORDERS)
               .where(_ORDERS.c.id == bindparam("order_key"), tables.still_pending(_ORDERS.c.status),
                      _ORDERS.c.payment_started_at.is_(None),
                      or_(_ORDERS.c.start_lease_until.is_(None), _ORDERS.c.start_lease_until < func.now(),
                          _ORDERS.c.start_lease_until == bindparam("own_lease", type_=DateTime(timezone=True))),
                      _CONTESTS.c.id == _ORDERS.c.contest_id)
               .values(start_lease_until=func.now() + START_LEASE,
                       start_attempted_at=func.coalesce(_ORDERS.c.start_attempted_at, func.now()))
               .returning(*_ORDERS.c, _CONTESTS.c.name.label("contest_name"),
                          _CANDIDATE_NAME.label("candidate_name"), kept_during_start().label("kept"),
                          late_votes.lines_shut_in_sql(_CONTESTS).label("lines_closed")))
# The reason a vote's start that came after the lines closed fails with (its readable words: payments.reasons).
LINES_CLOSED = "LINES_CLOSED"


async def unclaimed_outcome(sessions: Sessions, order_id: uuid.UUID) -> StartOutcome | None:
    """Why an order could not be claimed: decided or started already, or (None) under way elsewhere."""
    async with autocommit(sessions) as session:
        order = await session.get(VoteOrder, order_id)
    if order is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    if order.status is not OrderStatus.PENDING or order.payment_started_at is not None:
        return StartOutcome(order.id, order.status, order.provider_data.get("redirect_url"))
    return None


async def release_start(sessions: Sessions, order_id: uuid.UUID, lease: datetime) -> None:
    """Give a failed start's lease back so a retry need not wait for it to run out."""
    try:
        async with autocommit_connection(sessions) as connection:
            await connection.execute(RELEASE_START, {"order_key": order_id, "lease": lease})
    except Exception:  # the lease runs out by itself
        log.exception("could not release the start lease of %s", order_id)


ORDERS = VoteOrder.__table__
RELEASE_START = (update(ORDERS)
                 .where(ORDERS.c.id == bindparam("order_key"),
                        ORDERS.c.start_lease_until == bindparam("lease", type_=DateTime(timezone=True)))
                 .values(start_lease_until=None))
# A late start (a lost prompt sent again by the reconciler) moves the order's expiry to the end of the
# provider's window: expiring it while the payer may still approve would take money for a flagged vote.
RECORD_START = (update(ORDERS)
                .where(ORDERS.c.id == bindparam("order_key"), ORDERS.c.payment_started_at.is_(None))
                .values(provider_data=ORDERS.c.provider_data.op("||")(bindparam("started_data", type_=JSONB)),
                        payment_started_at=func.now(), start_lease_until=None,
                        expires_at=func.greatest(ORDERS.c.expires_at,
                                                 func.now() + bindparam("window", type_=Interval)))
                .returning(ORDERS.c.id))
RECORDING = DriverStatement(RECORD_START, ("order_key", "started_data", "window"))  # by asyncpg: see counting
# The same answering exactly one row, its id None when another start was recorded first: a batch's rows come in one
# list, so each of its statements must answer one (`CountBatches.fetchrow`).
RECORDING_ONE_ROW = DriverStatement(select(select(RECORD_START.cte("recorded").c.id).scalar_subquery().label("id")),
                                    ("order_key", "started_data", "window"))


async def record_start(sessions: Sessions, order: VoteOrder, result: StartResult, window: timedelta,
                       records: CountBatches | None = None) -> bool:
    """Keep what the provider answered; False when another start was recorded first. With `records`, in the
    process's next batch of records when its lane is busy: records that arrive together share a commit (each
    writes only its own order's row, so a batch of them waits on no other)."""
    data = dict(result.provider_data)
    if result.redirect_url:
        data["redirect_url"] = result.redirect_url
    params = {"order_key": order.id, "started_data": data, "window": window}
    if records is not None:
        recorded = await records.fetchrow(RECORDING_ONE_ROW, params, (0, 0))
        recorded = recorded if recorded is not None and recorded["id"] is not None else None
    else:
        async with autocommit_connection(sessions) as connection:
            recorded = await RECORDING.fetchrow(connection, params)
    if recorded is None:
        log.warning("payment start for %s finished after another one had been recorded", order.id)
    return recorded is not None


async def start_for_page(sessions: Sessions, registry: Providers, order_id: uuid.UUID,
                         claimed: ClaimedStart | None = None) -> StartOutcome:
    """Start a just-placed order whose payer must be sent to the provider's page: now, in the voter's request.
    A replay (a double submit) while the first request starts it waits for that start's page."""
    try:
        started = await start_payment(sessions, registry, order_id, claimed)
    except PaymentError as exc:
        log.warning("payment start failed for %s, will be retried by the reconciler: %s", order_id, exc)
        raise PaymentUnavailable("The payment service did not answer; please try again in a moment.") from exc
    if started is None:
        started = await recorded_start(sessions, order_id, timeout=REPLAY_WAIT_SECONDS)
    if started is None:
        raise PaymentUnavailable("The payment is being started; please try again in a moment.")
    return started


REPLAY_WAIT_SECONDS = 15.0


async def recorded_start(sessions: Sessions, order_id: uuid.UUID, *, timeout: float) -> StartOutcome | None:
    """The order's start once another request or process has recorded it, or the order once decided (None if
    neither in time)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    while loop.time() < until:
        await asyncio.sleep(0.2)
        if (outcome := await unclaimed_outcome(sessions, order_id)) is not None:
            return outcome
    return None
