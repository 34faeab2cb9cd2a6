"""Asking a provider about an order and settling what it says: the only way to a counted vote."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import select, update

from gateway.core.money_in import chargebacks
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.reasons import readable_reason
from gateway.core.money_in.starting_again import start_again
from gateway.core.orders import closing, counting, refunding
from gateway.core.orders.outcomes import Outcome
from gateway.core.providers import (
    Collection,
    CollectionNotFound,
    PaymentProvider,
    PaymentState,
    ProviderRateLimited,
    Providers,
    StatusResult,
)
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import OrderStatus, VoteOrder

CHECKABLE = (OrderStatus.PENDING, OrderStatus.EXPIRED, OrderStatus.FAILED)


class StartNotRecorded(CollectionNotFound):
    """The provider knows no payment for an order whose start has not recorded what the provider answered: the
    start may still be under way (a provider's word can beat the record of the prompt it is about: Daraja's result
    of a prompt another one held the phone against comes within a second), so a check after it may find it."""


async def settle(sessions: Sessions, order_id: uuid.UUID, status: StatusResult, provider: str, *,
                 verify_later: bool = False) -> Outcome:
    """Apply what `provider` says about an order; every branch is safe to repeat.

    `verify_later`: the word is a callback's, not a status call's: an order it counts is queued, in the
    same statement, for a status check later (`gateway.core.money_in.verification.by_status`)."""
    state = status.state
    if state is PaymentState.SUCCESSFUL:
        if status.amount is None or not status.currency:
            await closing.flag_order(sessions, order_id, "provider reported success without a readable amount")
            return Outcome.FLAGGED
        outcome = await counting.confirm_payment(sessions, order_id, status.raw_status or "SUCCESSFUL",
                                                 status.amount, status.currency, status.provider_txn_id,
                                                 provider=provider, verify_later=verify_later, risk=status.risk)
        return Outcome(outcome)
    if state is PaymentState.FAILED:
        changed = await closing.fail_order(sessions, order_id, readable_reason(status.reason or status.raw_status))
        return Outcome.FAILED if changed else Outcome.ALREADY_DECIDED
    if state is PaymentState.EXPIRED:
        changed = await closing.expire_order(sessions, order_id, readable_reason(status.reason or "EXPIRED"))
        return Outcome.EXPIRED if changed else Outcome.ALREADY_DECIDED
    if state is PaymentState.CHARGED_BACK:
        recorded = await chargebacks.record_chargeback(sessions, order_id, reason=status.reason or "disputed")
        return Outcome.CHARGED_BACK if recorded else Outcome.ALREADY_DECIDED
    if state is PaymentState.REFUNDED:  # whatever the order's state: a refund is never dropped
        refund = await refunding.settle_refund(sessions, order_id, status.amount, status.currency,
                                               status.provider_txn_id)
        return Outcome(refund)
    return Outcome.PENDING


StatusPace = Callable[[PaymentProvider], Awaitable[None]]  # waits until a status call fits the provider's cap


async def check_payment(sessions: Sessions, registry: Providers, order_id: uuid.UUID, *,
                        note: bool = True, pace: StatusPace | None = None) -> Outcome:
    """Ask the provider and settle: the only way an unsigned callback can lead to a counted vote.

    `note` records the check for the reconciler's back-off; a check a callback asked for skips it.
    `pace` (see `gateway.kit.status_pacing`) holds the call until it fits the provider's status-call cap.
    """
    async with autocommit(sessions) as session:
        loaded = await load_collection(session, order_id)
    if loaded is None:
        return Outcome.UNKNOWN_ORDER
    order, collection = loaded
    if order.status not in CHECKABLE:
        return Outcome.ALREADY_DECIDED
    try:
        status = await fetch_paced(registry.for_order(order.provider, order.channel), collection, pace)
    except CollectionNotFound as missing:
        if order.payment_started_at is None:
            raise StartNotRecorded(missing.provider, missing.code, missing.message, status=missing.status) from missing
        raise
    if note:
        await note_check(sessions, order_id)
    if status.start_again and status.state is PaymentState.PENDING:
        return await start_again(sessions, order, collection, status)
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


async def word_on(provider: PaymentProvider, collection: Collection, pace: StatusPace | None) -> StatusResult | None:
    """The provider's status of a payment we counted, None when it has no such payment (raises PaymentError when it
    could not be asked)."""
    try:
        return await fetch_paced(provider, collection, pace)
    except CollectionNotFound:
        return None


async def note_check(sessions: Sessions, order_id: uuid.UUID) -> None:
    """Pace the reconciler's next look; skipped rather than queued behind whoever holds the order row."""
    free = select(VoteOrder.id).where(VoteOrder.id == order_id).with_for_update(skip_locked=True)
    async with autocommit(sessions) as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == free.scalar_subquery())
                              .values(last_checked_at=datetime.now(UTC), check_count=VoteOrder.check_count + 1))
