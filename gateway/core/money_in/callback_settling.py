"""Provider callbacks: kept raw (bounded when anyone could have sent them), verified, and settled
when they are proof; otherwise they only ask for a status check."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, Text, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.core.errors import DomainError
from gateway.core.money_in.checking import settle
from gateway.core.money_in.collections import (
    WHOLE_EVENTS_PER_ORDER,
    collection_of_columns,
    load_collection_columns,
)
from gateway.core.orders import counting
from gateway.core.orders.count_batches import CountBatches
from gateway.core.orders.kept_events import EVENT_PARAMETERS, EventToKeep, kept_event
from gateway.core.orders.outcomes import Outcome
from gateway.core.providers import (
    CallbackRejected,
    CallbackVerdict,
    InboundCallback,
    PaymentError,
    PaymentProvider,
    PaymentState,
    Providers,
    StatusResult,
)
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection
from gateway.db.models import ProviderEvent, VoteOrder

log = logging.getLogger(__name__)

# Headers never stored with a provider event (nor those a provider names as its secret: `SecretHeaders`).
PRIVATE_HEADERS = frozenset({"authorization", "cookie"})
class EventUnsettled(DomainError):
    """A provider's event seen before but not settled yet: a 503 makes the provider send it again."""

    status = 503
    code = "event_unsettled"


Untied = Callable[[], Awaitable[None]]  # what a callback tied to no order of ours must pass first
# Whether an unvouched callback's check of its order is due now (False: one was asked moments ago); may refuse.
CheckDue = Callable[[uuid.UUID], Awaitable[bool]]


@dataclass(frozen=True)
class CallbackOutcome:
    order_id: uuid.UUID | None
    outcome: Outcome


async def receive_callback(
    sessions: Sessions, registry: Providers, provider: str, order_id: uuid.UUID | None,
    headers: Mapping[str, str], body: bytes, *, untied: Untied | None = None, secret: str | None = None,
    batches: CountBatches | None = None, check_due: CheckDue | None = None,
) -> CallbackOutcome:
    """Keep the raw callback, verify it, and settle it if it is proof; else ask for a check.

    `untied` is awaited before anything is stored when the callback's URL names no order of this
    provider (it may refuse, e.g. a per-address limit): known in the same query that loads the order.
    Raises CallbackRejected (after storing the event) for a callback that fails verification.
    `secret`: the per-order secret of the callback's URL (MTN), handed to the provider, never kept.
    A callback the provider vouches for with it (`verify_later`) counts at once and is queued for a
    status check later (`gateway.core.money_in.verification.by_status`). `batches`: the process's group commit, where
    a callback that pays a pending order is counted (and kept) with the others that arrive with it.
    `check_due` is awaited for a callback that is not vouched for and only asks for a check of an order of
    ours: anyone who knows an order's id can send those, so a repeat (False) is not kept, and answered
    CHECKED_RECENTLY (its caller asks for the check once the order's interval is over).
    """
    arrived = datetime.now(UTC)
    # One connection for the common case, a callback that counts its vote: load, then keep and count in one
    # statement (no BEGIN/COMMIT round trips); when the process's counting lanes are busy, in the next batch, off
    # this connection, which is given back first.
    async with autocommit_connection(sessions) as connection:
        taken: Intake | Verified | CallbackOutcome = await take_in(connection, registry, provider, order_id, headers,
                                                                   body, untied, secret, arrived)
        if isinstance(taken, Verified) and check_due is not None and not await asked_now(taken, check_due):
            return CallbackOutcome(taken.target, Outcome.CHECKED_RECENTLY)
        if isinstance(taken, Verified) and (batches is None or countable(taken) is None):
            taken = await keep(connection, taken)
        elif isinstance(taken, Verified) and batches is not None and batches.lane_free():
            # Alone: counted at once on this connection, holding the process's lane while it is.
            async with batches.leading():
                taken = await keep(connection, taken)
    if isinstance(taken, Verified):
        assert batches is not None
        taken = await counted_in_batch(sessions, taken, batches)
    if isinstance(taken, CallbackOutcome):
        return taken
    intake = taken
    assert isinstance(intake, Intake)
    if isinstance(intake.verdict, CallbackRejected):
        raise intake.verdict
    if intake.event_id is None:
        if intake.unsettled:  # kept, not settled yet (or cut short): the provider must send it again
            raise EventUnsettled("This event is being settled; send it again later.")
        return CallbackOutcome(intake.target, Outcome.DUPLICATE)
    if intake.known is not None:
        return CallbackOutcome(intake.target, intake.known)
    assert intake.target is not None and intake.verdict.status is not None
    outcome = await settle(sessions, intake.target, intake.verdict.status, provider,
                           verify_later=intake.verdict.verify_later)
    await set_event_outcome(sessions, intake.event_id, outcome)
    return CallbackOutcome(intake.target, outcome)


@dataclass(frozen=True)
class Verified:
    """A callback verified against its order, not kept yet."""

    verdict: CallbackVerdict
    target: uuid.UUID | None
    known: Outcome | None  # the outcome when it is clear without settling
    event: EventToKeep
    lock_order: tuple[int, int] = (0, 0)  # its order's contest and candidate: where a count takes its locks


async def asked_now(verified: Verified, check_due: CheckDue) -> bool:
    """Whether a verified callback is to be kept (and its check asked): always, unless it only asks for a check, is
    not vouched for, and `check_due` says its order's check was asked moments ago."""
    if verified.known is not Outcome.NEEDS_CHECK or verified.verdict.vouched or verified.target is None:
        return True
    return await check_due(verified.target)


def countable(verified: Verified) -> StatusResult | None:
    """What a callback says, when it says that an order of ours was paid, with the amount: counted as it is kept."""
    status = verified.verdict.status
    if (verified.known is not None or verified.target is None or status is None
            or status.state is not PaymentState.SUCCESSFUL or status.amount is None or not status.currency):
        return None
    return status


async def keep(connection: AsyncConnection, verified: Verified) -> Intake | CallbackOutcome:
    """Keep a verified callback, counting its order in the same statement when it says it was paid; what that
    decided (CallbackOutcome), or what is left to settle (`settle` may open connections of its own)."""
    if countable(verified) is not None:
        counted, event_key = await count_paid(verified, lambda statement, params: statement.fetchrow(connection,
                                                                                                   params))
        if counted is not None:
            return counted
    else:
        event_key = await store_event(connection, verified.event, verified.known)
    return await intake_of(connection, verified, event_key)


async def counted_in_batch(sessions: Sessions, verified: Verified, batches: CountBatches) -> Intake | CallbackOutcome:
    """`keep` for a callback that pays a pending order, counted in the process's next batch."""
    counted, event_key = await count_paid(
        verified, lambda statement, params: batches.fetchrow(statement, params, verified.lock_order))
    if counted is not None:
        return counted
    async with autocommit_connection(sessions) as connection:
        return await intake_of(connection, verified, event_key)


async def count_paid(verified: Verified, run: counting.RunStatement) -> tuple[CallbackOutcome | None, int | None]:
    status = countable(verified)
    assert status is not None and status.amount is not None and status.currency is not None
    counted, event_key = await counting.count_keeping_event(
        run, verified.event, status.raw_status or "SUCCESSFUL", status.amount, status.currency,
        status.provider_txn_id, verify_later=verified.verdict.verify_later, risk=status.risk,
        named=verified.verdict.keeps)
    return (None if counted is None else CallbackOutcome(verified.target, Outcome(counted))), event_key


async def intake_of(connection: AsyncConnection, verified: Verified, event_key: int | None) -> Intake:
    """What is left to settle of a kept callback: nothing when it was a replay (`event_key` None), unless the
    event it replays was never settled."""
    event_id = verified.verdict.event_id
    unsettled = event_key is None and await event_outcome(connection, verified.event.provider, event_id) is None
    return Intake(verified.verdict, verified.target, verified.known, event_key, unsettled)


@dataclass(frozen=True)
class Intake:
    verdict: CallbackVerdict | CallbackRejected
    target: uuid.UUID | None = None
    known: Outcome | None = None  # the outcome when it is clear without settling
    event_id: int | None = None  # None: a replay of an event already kept
    unsettled: bool = False  # that replay's event has no outcome yet


async def take_in(session: AsyncConnection, registry: Providers, provider: str, order_id: uuid.UUID | None,
                  headers: Mapping[str, str], body: bytes, untied: Untied | None = None,
                  secret: str | None = None, arrived: datetime | None = None) -> Intake | Verified:
    """Verify a callback against its order and keep it, whatever the verdict: raw when it is about
    an order of ours (its first WHOLE_EVENTS_PER_ORDER), bounded (`bounded_event`) when it is not,
    fails verification, or floods one order. One that fails verification on an order's URL passes
    `untied` first too: a wrong secret is no more vouched for than an unknown order. What is verified
    is kept by `keep` (one that pays a pending order of ours is counted as it is kept). On a connection in AUTOCOMMIT
    mode: the order's load is run by asyncpg itself (`load_collection_columns`)."""
    # The URL's secret is never kept, nor a header that repeats it (a proxy's X-Original-URI).
    private = PRIVATE_HEADERS | registry.secret_headers()
    kept_headers = {k.lower(): v for k, v in headers.items()
                    if k.lower() not in private and not (secret and secret in v)}
    row = await load_collection_columns(session, order_id) if order_id else None
    order, collection = collection_of_columns(row) if row else (None, None)
    if order is not None and order.provider != provider:
        order, collection = None, None  # a callback on another provider's URL proves nothing
    if order is None and untied is not None:
        await untied()
    try:
        implementation = judge_of(registry, provider, order)
        verdict = await implementation.verify_callback(InboundCallback(order_id, headers, body, secret), collection)
    except CallbackRejected as exc:
        if order is not None and untied is not None:
            await untied()
        rejected = EventToKeep(provider, None, order_id, "rejected", *bounded_event(kept_headers, body), arrived)
        await store_event(session, rejected, f"rejected:{exc.code}")
        return Intake(exc)
    target = verdict.order_id or (order.id if order else None)
    if target is None and verdict.status and verdict.status.provider_txn_id:
        target = await order_by_txn(session, provider, verdict.status.provider_txn_id)
    known = callback_outcome(target, order is not None, verdict.status is not None, order_id is not None)
    lock_order = (order.contest_id, order.candidate_id or 0) if order is not None else (0, 0)
    if known is None and verdict.order_id is not None and (order is None or order.id != verdict.order_id):
        known, lock_order = await named_order(session, provider, verdict.order_id)
    whole = known not in UNTIED and (order is None
                                     or (row is not None and row["events_so_far"] < WHOLE_EVENTS_PER_ORDER))
    kept = (kept_headers, body) if whole else bounded_event(kept_headers, body)
    event = EventToKeep(provider, verdict.event_id, target, verdict.kind, *kept, arrived)
    return Verified(verdict, target, known, event, lock_order)


async def named_order(session: AsyncConnection, provider: str,
                      order_id: uuid.UUID) -> tuple[Outcome | None, tuple[int, int]]:
    """What an event that names its order itself (Stripe's metadata) leads to when that is clear before settling,
    and its order's contest and candidate (where a count in a batch takes its locks).

    It settles only an order of its own provider. Another provider's order is left alone, not flagged: its own
    provider may still confirm it, and a flag would keep that genuine payment out of the tally. The event is kept
    with the outcome that says so.
    """
    owner = (await session.execute(select(VoteOrder.provider, VoteOrder.contest_id, VoteOrder.candidate_id)
                                   .where(VoteOrder.id == order_id))).first()
    if owner is None:
        return Outcome.UNKNOWN_ORDER, (0, 0)
    return None if owner.provider == provider else Outcome.OTHER_PROVIDER, (owner.contest_id, owner.candidate_id or 0)


UNTIED = (Outcome.UNKNOWN_ORDER, Outcome.IGNORED)  # outcomes of a callback about no order of ours
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


async def signature_holds(registry: Providers, provider: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a callback of a provider that signs them all (Stripe) is signed by it; False when that
    provider is not set up here. Checks only: nothing is kept or settled."""
    try:
        await registry.get(provider).verify_callback(InboundCallback(None, headers, body), None)
    except PaymentError:  # CallbackRejected included
        return False
    return True


async def event_outcome(session: AsyncConnection, provider: str, event_id: str | None) -> str | None:
    return await session.scalar(select(ProviderEvent.outcome).where(
        ProviderEvent.provider == provider, ProviderEvent.event_id == event_id))


def judge_of(registry: Providers, provider: str, order: VoteOrder | None) -> PaymentProvider:
    """The implementation that can verify this callback; CallbackRejected when none here can."""
    try:
        return registry.for_order(provider, order.channel) if order else registry.get(provider)
    except PaymentError as exc:
        if registry.offers(provider):  # set up, but it takes callbacks only for its own orders (Orange)
            raise CallbackRejected(provider, "unknown_order", "No payment of this provider has that order id.") from exc
        raise CallbackRejected(provider, "provider_unavailable", "This payment provider is not set up here.") from exc


def callback_outcome(target: uuid.UUID | None, order_known: bool, is_proof: bool, had_path_id: bool) -> Outcome | None:
    """What a callback leads to when that is clear before settling anything (None: settle it)."""
    if target is None or (not order_known and not is_proof):
        return Outcome.UNKNOWN_ORDER if is_proof or had_path_id else Outcome.IGNORED
    return None if is_proof else Outcome.NEEDS_CHECK


async def order_by_txn(session: AsyncConnection, provider: str, provider_txn_id: str) -> uuid.UUID | None:
    return await session.scalar(select(VoteOrder.id).where(
        VoteOrder.provider == provider, VoteOrder.provider_txn_id == provider_txn_id))


async def store_event(session: AsyncConnection, event: EventToKeep, outcome: str | None = None) -> int | None:
    """Insert the raw event; None when the provider's event id was seen before (a replay) and settled.
    `outcome`: an `Outcome`, or "rejected:<code>" for a callback that failed verification."""
    stored = await STORE_EVENT.fetchrow(session, event.parameters() | {"ev_outcome": outcome})
    return None if stored is None else int(stored[0])


STORE_EVENT = DriverStatement(kept_event(bindparam("ev_outcome", type_=String)),
                              (*EVENT_PARAMETERS, "ev_outcome"))  # by asyncpg: see counting
SET_EVENT_OUTCOME = (update(ProviderEvent.__table__)
                     .where(ProviderEvent.__table__.c.id == bindparam("ev_key"))
                     .values(outcome=bindparam("ev_outcome", type_=Text)))


async def set_event_outcome(sessions: Sessions, event_id: int, outcome: Outcome) -> None:
    async with autocommit_connection(sessions) as connection:
        await connection.execute(SET_EVENT_OUTCOME, {"ev_key": event_id, "ev_outcome": outcome})
