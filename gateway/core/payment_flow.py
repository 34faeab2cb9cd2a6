"""Payments as the vote core sees them: start a collection, settle what a provider says, and
take in callbacks. Providers are reached only through `gateway.core.providers.PaymentProvider`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    DateTime,
    Interval,
    ScalarSelect,
    Text,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import ReturningInsert

from gateway.core import votes
from gateway.core.errors import Conflict, DomainError, NotFound, VoteRejected
from gateway.core.providers import (
    CallbackRejected,
    CallbackVerdict,
    Collection,
    InboundCallback,
    PaymentError,
    PaymentProvider,
    PaymentState,
    ProviderRateLimited,
    Providers,
    RefundUnsupported,
    StartResult,
    StatusResult,
)
from gateway.core.reasons import readable_reason
from gateway.db.engine import autocommit, autocommit_connection
from gateway.db.models import AuditEntry, Candidate, Contest, OrderStatus, ProviderEvent, VoteOrder
from gateway.db.storable import storable, storable_strings

log = logging.getLogger(__name__)
Sessions = async_sessionmaker[AsyncSession]
# Headers never stored with a provider event.
PRIVATE_HEADERS = frozenset({"authorization", "cookie", "x-telegram-bot-api-secret-token"})
CHECKABLE = (OrderStatus.PENDING, OrderStatus.EXPIRED, OrderStatus.FAILED)


class PaymentUnavailable(DomainError):
    status = 503
    code = "payment_unavailable"


class EventUnsettled(DomainError):
    """A provider's event seen before but not settled yet: a 503 makes the provider send it again."""

    status = 503
    code = "event_unsettled"


@dataclass(frozen=True)
class StartOutcome:
    order_id: uuid.UUID
    status: OrderStatus
    redirect_url: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class CallbackOutcome:
    order_id: uuid.UUID | None
    outcome: str  # counted, already_decided, flagged, failed, duplicate, needs_check, ignored, …


def describe(quantity: int, candidate: str, contest: str) -> str:
    return f"{quantity} vote{'s' if quantity > 1 else ''} for {candidate} - {contest}"


async def load_collection(session: AsyncSession, order_id: uuid.UUID) -> tuple[VoteOrder, Collection] | None:
    """The order and its collection, with what a start cut short kept at the provider's request."""
    row = (await session.execute(LOAD_COLLECTION, {"order_key": order_id})).one_or_none()
    return None if row is None else collection_of(*row)


KEPT_DURING_START = "start.kept"  # provider event kind: data a provider kept in the middle of a start


def kept_during_start() -> ScalarSelect[Any]:
    """The bodies a start kept for the order (usually none), oldest first, in the order's own query."""
    return (select(func.coalesce(func.jsonb_agg(aggregate_order_by(ProviderEvent.body, ProviderEvent.id)),
                                 literal_column("'[]'::jsonb"), type_=JSONB))
            .where(ProviderEvent.order_id == VoteOrder.id, ProviderEvent.kind == KEPT_DURING_START)
            .scalar_subquery())


LOAD_COLLECTION = (select(VoteOrder, Contest.name, Candidate.name, kept_during_start())
                   .join(Contest, Contest.id == VoteOrder.contest_id)
                   .join(Candidate, Candidate.id == VoteOrder.candidate_id)
                   .where(VoteOrder.id == bindparam("order_key")))


def collection_of(order: VoteOrder, contest_name: str, candidate_name: str, kept: list[str]) -> tuple[
        VoteOrder, Collection]:
    data = dict(order.provider_data)
    if order.payment_started_at is None:  # a start may have been cut short after keeping data
        data.update({key: value for body in kept for key, value in json.loads(body).items()})
    if order.provider_txn_id:
        data.setdefault("payment_intent", order.provider_txn_id)
    return order, Collection(
        order_id=order.id, reference=order.payment_reference, amount=order.amount, currency=order.currency,
        msisdn=order.voter_msisdn, description=describe(order.quantity, candidate_name, contest_name),
        channel=order.channel.value, provider_data=data,
    )


async def keep_start_data(sessions: Sessions, order_id: uuid.UUID, provider: str, data: Mapping[str, Any]) -> None:
    """Commit provider data at once, on its own connection: if the process dies before the start
    is recorded, the next start resumes with it."""
    async with autocommit(sessions) as session:
        await session.execute(insert(ProviderEvent).values(
            provider=provider, order_id=order_id, kind=KEPT_DURING_START, headers={}, body=json.dumps(dict(data)),
            outcome="kept"))


def provider_for(registry: Providers, provider: str, channel: str) -> PaymentProvider:
    """The implementation that serves `provider` on `channel`, or a clear refusal."""
    try:
        return registry.for_order(provider, channel)
    except PaymentError as exc:
        raise VoteRejected("This payment method is not available right now.", code="provider_unavailable",
                           field="provider") from exc


def needs_redirect(registry: Providers, order: VoteOrder) -> bool:
    return registry.for_order(order.provider, order.channel.value).redirects


# A provider's start can take this long (MTN: four 15 s attempts and their back-off) before we give up
# on it; the lease that keeps a second start away outlives it, so two starts never overlap.
# The deadline counts from before the claim, so the margin covers the claim's own round trip, pool
# waits and event-loop stalls: only a pause of over 40 s could let a second start in.
START_DEADLINE_SECONDS = 80.0
START_LEASE = timedelta(seconds=120)


async def start_payment(sessions: Sessions, registry: Providers, order_id: uuid.UUID,
                        ) -> StartOutcome | None:
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
    """
    deadline = asyncio.get_running_loop().time() + START_DEADLINE_SECONDS
    claimed = await claim_start(sessions, order_id)
    if claimed is None:
        return await unclaimed_outcome(sessions, order_id)
    lease, order, collection = claimed
    provider = registry.for_order(order.provider, order.channel.value)
    try:
        collection = replace(collection, remember=partial(keep_start_data, sessions, order.id, order.provider))
        result = await call_start(provider, collection, deadline)
    except PaymentError as exc:
        if exc.retryable:
            await release_start(sessions, order_id, lease)
            raise
        log.info("payment start refused for %s: %s", order_id, exc)
        # Failed in the statement that drops the lease: no other start can claim it in between.
        await votes.fail_order(sessions, order_id, exc.message)
        return StartOutcome(order_id, OrderStatus.FAILED, message=exc.message)
    except Exception:
        await release_start(sessions, order_id, lease)
        raise
    if not await record_start(sessions, order, result, provider.payment_window):  # only if it outlived its lease
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


async def claim_start(sessions: Sessions, order_id: uuid.UUID) -> tuple[datetime, VoteOrder, Collection] | None:
    """Lease a pending, never-started order for one start, and load it in the same statement; None
    when it is not to be started now."""
    async with autocommit(sessions) as session:
        row = (await session.execute(CLAIM_START, {"order_key": order_id})).one_or_none()
    if row is None:
        return None
    order, collection = collection_of(*row)
    assert order.start_lease_until is not None
    return order.start_lease_until, order, collection


CLAIM_START = (update(VoteOrder)
               .where(VoteOrder.id == bindparam("order_key"), VoteOrder.status == OrderStatus.PENDING,
                      VoteOrder.payment_started_at.is_(None),
                      or_(VoteOrder.start_lease_until.is_(None), VoteOrder.start_lease_until < func.now()),
                      Contest.id == VoteOrder.contest_id, Candidate.id == VoteOrder.candidate_id)
               .values(start_lease_until=func.now() + START_LEASE,
                       start_attempted_at=func.coalesce(VoteOrder.start_attempted_at, func.now()))
               .returning(VoteOrder, Contest.name, Candidate.name, kept_during_start())
               .execution_options(synchronize_session=False))


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
                                                 func.now() + bindparam("window", type_=Interval))))


async def record_start(sessions: Sessions, order: VoteOrder, result: StartResult, window: timedelta) -> bool:
    """Keep what the provider answered; False when another start was recorded first."""
    data = dict(result.provider_data)
    if result.redirect_url:
        data["redirect_url"] = result.redirect_url
    async with autocommit_connection(sessions) as connection:
        recorded = (await connection.execute(RECORD_START, {"order_key": order.id, "started_data": data,
                                                            "window": window})).rowcount
    if not recorded:
        log.warning("payment start for %s finished after another one had been recorded", order.id)
    return bool(recorded)


async def settle(sessions: Sessions, order_id: uuid.UUID, status: StatusResult, provider: str) -> str:
    """Apply what `provider` says about an order; every branch is safe to repeat."""
    state = status.state
    if state is PaymentState.SUCCESSFUL:
        if status.amount is None or not status.currency:
            await votes.flag_order(sessions, order_id, "provider reported success without a readable amount")
            return "flagged"
        outcome = await votes.confirm_payment(sessions, order_id, status.raw_status or "SUCCESSFUL",
                                              status.amount, status.currency, status.provider_txn_id,
                                              provider=provider)
        return outcome.value
    if state is PaymentState.FAILED:
        changed = await votes.fail_order(sessions, order_id, readable_reason(status.reason or status.raw_status))
        return "failed" if changed else "already_decided"
    if state is PaymentState.EXPIRED:
        changed = await votes.expire_order(sessions, order_id, readable_reason(status.reason or "EXPIRED"))
        return "expired" if changed else "already_decided"
    if state is PaymentState.REFUNDED:  # whatever the order's state: a refund is never dropped
        refund = await votes.settle_refund(sessions, order_id, status.amount, status.currency, status.provider_txn_id)
        return refund.value
    return "pending"


StatusPace = Callable[[PaymentProvider], Awaitable[None]]  # waits until a status call fits the provider's cap


async def check_payment(sessions: Sessions, registry: Providers, order_id: uuid.UUID, *,
                        note: bool = True, pace: StatusPace | None = None) -> str:
    """Ask the provider and settle: the only way an unsigned callback can lead to a counted vote.

    `note` records the check for the reconciler's back-off; a check a callback asked for skips it.
    `pace` (see `gateway.jobs.status_pacing`) holds the call until it fits the provider's status-call cap.
    """
    async with autocommit(sessions) as session:
        loaded = await load_collection(session, order_id)
    if loaded is None:
        return "unknown_order"
    order, collection = loaded
    if order.status not in CHECKABLE:
        return "already_decided"
    status = await fetch_paced(registry.for_order(order.provider, order.channel.value), collection, pace)
    if note:
        await note_check(sessions, order_id)
    return await settle(sessions, order_id, status, order.provider)


STATUS_TURNS = 3  # paced tries of one status check the provider refused for its rate


async def fetch_paced(provider: PaymentProvider, collection: Collection, pace: StatusPace | None) -> StatusResult:
    """The provider's status, each try on its own paced turn (a 429 waits for the next one)."""
    for turn in range(1, STATUS_TURNS + 1):
        if pace is not None:
            await pace(provider)
        try:
            return await provider.fetch_status(collection)
        except ProviderRateLimited:
            if pace is None or turn == STATUS_TURNS:
                raise
    raise AssertionError("unreachable")


async def note_check(sessions: Sessions, order_id: uuid.UUID) -> None:
    """Pace the reconciler's next look; skipped rather than queued behind whoever holds the order row."""
    free = select(VoteOrder.id).where(VoteOrder.id == order_id).with_for_update(skip_locked=True)
    async with autocommit(sessions) as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == free.scalar_subquery())
                              .values(last_checked_at=datetime.now(UTC), check_count=VoteOrder.check_count + 1))


async def receive_callback(
    sessions: Sessions, registry: Providers, provider: str, order_id: uuid.UUID | None,
    headers: Mapping[str, str], body: bytes,
) -> CallbackOutcome:
    """Keep the raw callback, verify it, and settle it if it is proof; else ask for a check.

    Raises CallbackRejected (after storing the event) for a callback that fails verification.
    """
    async with autocommit(sessions) as session:  # two statements that stand alone: no BEGIN/COMMIT round trips
        intake = await take_in(session, registry, provider, order_id, headers, body)
    if isinstance(intake.verdict, CallbackRejected):
        raise intake.verdict
    if intake.event_id is None:
        if intake.unsettled:  # kept, not settled yet (or cut short): the provider must send it again
            raise EventUnsettled("This event is being settled; send it again later.")
        return CallbackOutcome(intake.target, "duplicate")
    if intake.known is not None:
        return CallbackOutcome(intake.target, intake.known)
    assert intake.target is not None and intake.verdict.status is not None
    outcome = await settle(sessions, intake.target, intake.verdict.status, provider)
    await set_event_outcome(sessions, intake.event_id, outcome)
    return CallbackOutcome(intake.target, outcome)


@dataclass(frozen=True)
class Intake:
    verdict: CallbackVerdict | CallbackRejected
    target: uuid.UUID | None = None
    known: str | None = None  # the outcome when it is clear without settling
    event_id: int | None = None  # None: a replay of an event already kept
    unsettled: bool = False  # that replay's event has no outcome yet


async def take_in(session: AsyncSession, registry: Providers, provider: str, order_id: uuid.UUID | None,
                  headers: Mapping[str, str], body: bytes) -> Intake:
    """Verify a callback against its order and store it, whatever the verdict: raw when it is about
    an order of ours (its first WHOLE_EVENTS_PER_ORDER), bounded (`bounded_event`) when it is not,
    fails verification, or floods one order."""
    kept_headers = {k.lower(): v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS}
    loaded = await load_collection(session, order_id) if order_id else None
    order, collection = loaded if loaded else (None, None)
    if order is not None and order.provider != provider:
        order, collection = None, None  # a callback on another provider's URL proves nothing
    try:
        implementation = judge_of(registry, provider, order)
        verdict = await implementation.verify_callback(InboundCallback(order_id, headers, body), collection)
    except CallbackRejected as exc:
        await store_event(session, provider, None, order_id, "rejected", *bounded_event(kept_headers, body),
                          f"rejected:{exc.code}")
        return Intake(exc)
    target = verdict.order_id or (order.id if order else None)
    if target is None and verdict.status and verdict.status.provider_txn_id:
        target = await order_by_txn(session, provider, verdict.status.provider_txn_id)
    known = callback_outcome(target, order is not None, verdict.status is not None, order_id is not None)
    if known is None and verdict.order_id is not None and (order is None or order.id != verdict.order_id):
        known = await named_order_outcome(session, provider, verdict.order_id)
    whole = known not in UNTIED and (order is None or await few_events_yet(session, order.id))
    kept = (kept_headers, body) if whole else bounded_event(kept_headers, body)
    event_id = await store_event(session, provider, verdict.event_id, target, verdict.kind, *kept, known)
    unsettled = event_id is None and await event_outcome(session, provider, verdict.event_id) is None
    return Intake(verdict, target, known, event_id, unsettled)


async def named_order_outcome(session: AsyncSession, provider: str, order_id: uuid.UUID) -> str | None:
    """A signed event that names its order itself (Stripe's metadata) settles only an order of its own provider.

    Another provider's order is left alone, not flagged: its own provider may still confirm it, and a flag
    would keep that genuine payment out of the tally. The event is kept with the outcome that says so.
    """
    owner = await session.scalar(select(VoteOrder.provider).where(VoteOrder.id == order_id))
    if owner is None:
        return "unknown_order"
    return None if owner == provider else "other_provider"


UNTIED = ("unknown_order", "ignored")  # outcomes of a callback about no order of ours
KEPT_BODY_BYTES = 2048  # of a callback tied to no order: enough to see what it was
KEPT_HEADERS = ("content-type", "content-length", "user-agent", "x-forwarded-for", "x-request-id", "stripe-signature")
KEPT_HEADER_CHARS = 256


def bounded_event(headers: Mapping[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    """What is kept of a callback tied to no order of ours, or refused: anyone can send those, so a
    flood of them must not fill the disk. The body's first KEPT_BODY_BYTES, and where it was longer
    its whole length and SHA-256 (":body-bytes", ":body-sha256": names no real header can have); a
    few telling headers, each cut short, and how many others there were (":headers-dropped").
    A provider's genuine callback is about one of our orders, and is kept whole."""
    kept = {name: headers[name][:KEPT_HEADER_CHARS] for name in KEPT_HEADERS if name in headers}
    if len(kept) < len(headers):
        kept[":headers-dropped"] = str(len(headers) - len(kept))
    if len(body) > KEPT_BODY_BYTES:
        kept[":body-bytes"] = str(len(body))
        kept[":body-sha256"] = hashlib.sha256(body).hexdigest()
    return kept, body[:KEPT_BODY_BYTES]


# Callbacks kept whole per order: no provider sends nearly as many (MTN and Orange one or two,
# Stripe a few events). Past them, the one who placed the order is flooding its own order's URL.
WHOLE_EVENTS_PER_ORDER = 10


async def few_events_yet(session: AsyncSession, order_id: uuid.UUID) -> bool:
    """Whether the order has had fewer than WHOLE_EVENTS_PER_ORDER events (counting no further)."""
    first = select(ProviderEvent.id).where(ProviderEvent.order_id == order_id).limit(WHOLE_EVENTS_PER_ORDER)
    return int(await session.scalar(select(func.count()).select_from(first.subquery())) or 0) < WHOLE_EVENTS_PER_ORDER


async def is_order_of(sessions: Sessions, provider: str, order_id: uuid.UUID) -> bool:
    """Whether `order_id` is one of our orders paid through `provider` (a callback URL names it)."""
    async with autocommit(sessions) as session:
        return bool(await session.scalar(select(func.count()).where(
            VoteOrder.id == order_id, VoteOrder.provider == provider)))


async def signature_holds(registry: Providers, provider: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a callback of a provider that signs them all (Stripe) is signed by it; False when that
    provider is not set up here. Checks only: nothing is kept or settled."""
    try:
        await registry.get(provider).verify_callback(InboundCallback(None, headers, body), None)
    except PaymentError:  # CallbackRejected included
        return False
    return True


async def event_outcome(session: AsyncSession, provider: str, event_id: str | None) -> str | None:
    return await session.scalar(select(ProviderEvent.outcome).where(
        ProviderEvent.provider == provider, ProviderEvent.event_id == event_id))


def judge_of(registry: Providers, provider: str, order: VoteOrder | None) -> PaymentProvider:
    """The implementation that can verify this callback; CallbackRejected when none here can."""
    try:
        return registry.for_order(provider, order.channel.value) if order else registry.get(provider)
    except PaymentError as exc:
        if registry.offers(provider):  # set up, but it takes callbacks only for its own orders (Orange)
            raise CallbackRejected(provider, "unknown_order", "No payment of this provider has that order id.") from exc
        raise CallbackRejected(provider, "provider_unavailable", "This payment provider is not set up here.") from exc


def callback_outcome(target: uuid.UUID | None, order_known: bool, is_proof: bool, had_path_id: bool) -> str | None:
    """What a callback leads to when that is clear before settling anything (None: settle it)."""
    if target is None or (not order_known and not is_proof):
        return "unknown_order" if is_proof or had_path_id else "ignored"
    return None if is_proof else "needs_check"


async def order_by_txn(session: AsyncSession, provider: str, provider_txn_id: str) -> uuid.UUID | None:
    return await session.scalar(select(VoteOrder.id).where(
        VoteOrder.provider == provider, VoteOrder.provider_txn_id == provider_txn_id))


async def store_event(session: AsyncSession, provider: str, event_id: str | None, order_id: uuid.UUID | None,
                      kind: str, headers: Mapping[str, str], body: bytes, outcome: str | None = None) -> int | None:
    """Insert the raw event; None when the provider's event id was seen before (a replay) and settled."""
    return await session.scalar(STORE_EVENT, {
        "ev_provider": provider, "ev_id": event_id and storable(event_id), "ev_order": order_id,
        "ev_kind": storable(kind[:100]), "ev_headers": storable_strings(headers),
        "ev_body": storable(body.decode("utf-8", errors="replace")), "ev_outcome": outcome})


UNSETTLED_AFTER = timedelta(seconds=60)  # an event kept this long without an outcome was cut short


def store_event_statement() -> ReturningInsert[int]:
    """Built once; parameters are named unlike any column (a Core INSERT would take those as values)."""
    events = ProviderEvent.__table__.c
    return (pg_insert(ProviderEvent.__table__)
            .values(provider=bindparam("ev_provider", type_=events.provider.type),
                    event_id=bindparam("ev_id", type_=events.event_id.type),
                    order_id=bindparam("ev_order", type_=events.order_id.type),
                    kind=bindparam("ev_kind", type_=events.kind.type),
                    headers=bindparam("ev_headers", type_=events.headers.type),
                    body=bindparam("ev_body", type_=events.body.type),
                    outcome=bindparam("ev_outcome", type_=events.outcome.type))
            # Events without an id never meet. A replay of one kept but never settled (the process died
            # in between) claims it, by moving received_at to now, and settles it: Stripe's retry is the
            # only other delivery a refund will get. A second replay meanwhile finds the claim fresh.
            .on_conflict_do_update(index_elements=[events.provider, events.event_id],
                                   index_where=events.event_id.is_not(None),
                                   set_={"received_at": func.now()},
                                   where=events.outcome.is_(None) & (events.received_at < func.now() - UNSETTLED_AFTER))
            .returning(events.id))


STORE_EVENT = store_event_statement()
SET_EVENT_OUTCOME = (update(ProviderEvent.__table__)
                     .where(ProviderEvent.__table__.c.id == bindparam("ev_key"))
                     .values(outcome=bindparam("ev_outcome", type_=Text)))


async def set_event_outcome(sessions: Sessions, event_id: int, outcome: str) -> None:
    async with autocommit_connection(sessions) as connection:
        await connection.execute(SET_EVENT_OUTCOME, {"ev_key": event_id, "ev_outcome": outcome})


async def begin_vote(
    sessions: Sessions, registry: Providers, request: votes.OrderRequest, *,
    pending_ttl: timedelta, start_later: Callable[[uuid.UUID], None],
) -> tuple[VoteOrder, StartOutcome | None]:
    """Place the order, then start its payment: at once where the payer must be sent to a page,
    else after the reply (a phone prompt never holds up the voter's answer)."""
    window = provider_for(registry, request.provider, request.channel.value).payment_window
    order = await votes.place_order(sessions, request, pending_ttl=max(pending_ttl, window))
    if not needs_redirect(registry, order):
        start_later(order.id)
        return order, None
    try:
        started = await start_payment(sessions, registry, order.id)
    except PaymentError as exc:
        log.warning("payment start failed for %s, will be retried by the reconciler: %s", order.id, exc)
        raise PaymentUnavailable("The payment service did not answer; please try again in a moment.") from exc
    if started is None:  # a replay (a double submit) while the first request starts it: wait for its page
        started = await recorded_start(sessions, order.id, timeout=REPLAY_WAIT_SECONDS)
    if started is None:
        raise PaymentUnavailable("The payment is being started; please try again in a moment.")
    return order, started


REPLAY_WAIT_SECONDS = 15.0


async def recorded_start(sessions: Sessions, order_id: uuid.UUID, *, timeout: float) -> StartOutcome | None:
    """The order's start once another request has recorded it (None if it has not in time)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    while loop.time() < until:
        await asyncio.sleep(0.2)
        if (outcome := await unclaimed_outcome(sessions, order_id)) is not None:
            return outcome
    return None


@dataclass(frozen=True)
class RefundOutcome:
    status: OrderStatus
    message: str


async def request_refund(sessions: Sessions, registry: Providers, order_id: uuid.UUID, actor: str,
                         ) -> RefundOutcome:
    """Refund a paid order: through the provider's API where it has one (Stripe), else mark it
    `refund_requested` for a person to pay back by hand. Either way its votes leave the tally now."""
    async with autocommit(sessions) as session:
        loaded = await load_collection(session, order_id)
    if loaded is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    order, collection = loaded
    if order.status is not OrderStatus.PAID:
        raise Conflict(f"Only a paid order can be refunded; this one is {order.status.value}.", code="not_paid")
    try:
        result = await registry.for_order(order.provider, order.channel.value).refund(collection)
    except RefundUnsupported as exc:
        status, message = OrderStatus.REFUND_REQUESTED, f"Marked for a manual refund: {exc.message}"
    else:
        done = result.state is PaymentState.REFUNDED
        status = OrderStatus.REFUNDED if done else OrderStatus.REFUND_REQUESTED
        message = "Refunded by the provider." if done else "Refund sent to the provider; waiting for it to settle."
    await votes.uncount(sessions, order_id, status, message)
    await audit(sessions, actor, "order.refund", str(order_id), {"status": status.value, "message": message})
    return RefundOutcome(status, message)


async def audit(sessions: Sessions, actor: str, action: str, target: str, details: dict[str, str]) -> None:
    async with sessions.begin() as session:
        await session.execute(insert(AuditEntry).values(actor=actor, action=action, target=target, details=details))
