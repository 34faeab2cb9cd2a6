"""Verifying the payments of a provider that has no status call but lists every payment it took (Stars:
`getStarTransactions`): one read of the list answers every due entry of the queue at once.

The entries are those of `gateway.core.money_in.verification.by_status` (the order was counted at once on the
provider's word, e.g. a `successful_payment` on the secret-checked webhook). A pass claims the provider's due
entries in batches, oldest order first, each for as long as one read may take (`PaymentList.read_within`),
reads the list back to the oldest order of the batch, and judges each: listed for its order, at
its amount and currency: agreed, nothing changes. Listed but given back since: the refund
is applied like any refund the provider reports. Not listed: asked again until `wait_for` has passed since
it was counted (the list may lag the payment message), then its votes are taken back off and the order is
flagged, exactly as a disagreeing status check does. A read that stopped short, or a provider that cannot
answer, declares nothing missing: entries left unanswered long past `wait_for` are logged (and counted in the
verification backlog /metrics shows), since a forged one keeps its votes meanwhile.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update

from gateway.core.money import money_text
from gateway.core.money_in.verification.by_status import (
    ORDERS,
    QUEUE,
    VERIFIABLE,
    Judgement,
    Verified,
    ask_again,
    finish,
    take_back,
)
from gateway.core.orders import refunding
from gateway.core.providers import (
    ListedPayment,
    PaymentError,
    PaymentList,
    PaymentState,
    StatusResult,
)
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import PaymentVerification, VoteOrder

log = logging.getLogger(__name__)

# How far before an order's creation its payment may be dated: the two clocks are not ours to trust.
CLOCK_SLACK = timedelta(minutes=5)
# Entries one read answers: claimed oldest order first, and only those ordered within BATCH_SPAN of the
# batch's oldest, so an old entry widens the read-back of none but its own neighbours.
CLAIM_BATCH = 100
BATCH_SPAN = timedelta(minutes=15)
BATCHES_PER_PASS = 10
LEASE_MARGIN = timedelta(minutes=1)  # beyond the longest read: the judging and recording after it
STALE_AFTER = 3  # × wait_for: entries still unanswered by then are logged


@dataclass(frozen=True)
class CountedPayment:
    """A queued order as the verification by list needs it."""

    order_id: uuid.UUID
    reference: str
    amount: int
    currency: str
    txn_id: str | None
    created_at: datetime
    counted_at: datetime  # when it joined the queue: when its payment was counted


def judge_listed(order: CountedPayment, listed: ListedPayment | None, complete: bool, now: datetime,
                 wait_for: timedelta) -> Judgement:
    """What the provider's list says of a payment we counted. Pure: no I/O."""
    if listed is None:
        if order.txn_id is None:
            return Judgement(Verified.DISAGREED, "the payment was counted without the provider's transaction id")
        if complete and now - order.counted_at >= wait_for:
            return Judgement(Verified.DISAGREED, f"the provider lists no payment {order.txn_id} "
                                                 f"{int(wait_for.total_seconds())} s after it was counted")
        return Judgement(Verified.ASK_AGAIN)
    if listed.reference != order.reference:
        return Judgement(Verified.DISAGREED, f"the provider's payment {listed.txn_id} was for another order")
    if listed.amount != order.amount or listed.currency.upper() != order.currency.upper():
        return Judgement(Verified.DISAGREED, f"the provider took {money_text(listed.amount, listed.currency)}, "
                                             f"the order is {money_text(order.amount, order.currency)}")
    if listed.refunded:  # a genuine payment given back later: a refund to apply, not a forgery
        return Judgement(Verified.REFUNDED, "the provider lists the payment as refunded")
    return Judgement(Verified.AGREED)


CLAIM_DUE = (update(PaymentVerification.__table__)
             .where(QUEUE.order_id.in_(
                 select(QUEUE.order_id).join(VoteOrder.__table__, ORDERS.id == QUEUE.order_id)
                 .where(QUEUE.verified_at.is_(None), QUEUE.due_at <= bindparam("claim_now"),
                        ORDERS.provider == bindparam("claim_provider"),
                        QUEUE.order_id.not_in(bindparam("claim_skip", expanding=True)))
                 .order_by(ORDERS.created_at, ORDERS.id).limit(bindparam("claim_limit"))
                 .with_for_update(of=PaymentVerification.__table__, skip_locked=True)))
             .values(due_at=bindparam("claim_until"), attempts=QUEUE.attempts + 1)
             .returning(QUEUE.order_id, QUEUE.queued_at))


async def claim_due(sessions: Sessions, provider: str, now: datetime, lease: timedelta, limit: int = CLAIM_BATCH,
                    skip: frozenset[uuid.UUID] = frozenset()) -> dict[uuid.UUID, datetime]:
    """Up to `limit` due entries of `provider`'s orders, oldest order first, claimed for `lease` (due again
    only then, should this pass die): when each was queued. `skip`: entries this pass answered already."""
    async with sessions.begin() as session:
        rows = (await session.execute(CLAIM_DUE, {"claim_now": now, "claim_provider": provider, "claim_limit": limit,
                                                  "claim_until": now + lease, "claim_skip": list(skip)})).all()
    return {row.order_id: row.queued_at for row in rows}


async def verify_by_list(sessions: Sessions, provider: str, payments: PaymentList, *, now: datetime,
                         wait_for: timedelta) -> list[tuple[uuid.UUID, Verified]]:
    """One pass over `provider`'s due entries: one read of its list per batch of them, a verdict for each."""
    done: list[tuple[uuid.UUID, Verified]] = []
    for _ in range(BATCHES_PER_PASS):
        claimed = await claim_due(sessions, provider, now, payments.read_within + LEASE_MARGIN, CLAIM_BATCH,
                                  frozenset(order_id for order_id, _ in done))
        if not claimed:
            break
        done += await verify_batch(sessions, provider, payments, claimed, now=now, wait_for=wait_for)
    return done


async def verify_batch(sessions: Sessions, provider: str, payments: PaymentList, claimed: dict[uuid.UUID, datetime],
                       *, now: datetime, wait_for: timedelta) -> list[tuple[uuid.UUID, Verified]]:
    """One read of the list for the claimed entries, a verdict for each."""
    async with autocommit(sessions) as session:
        orders = (await session.scalars(select(VoteOrder).where(VoteOrder.id.in_(list(claimed))))).all()
    done = [(order_id, Verified.NOT_PAID) for order_id in claimed.keys() - {order.id for order in orders}]
    counted = [CountedPayment(order.id, str(order.payment_reference), order.amount, order.currency,
                              order.provider_txn_id, order.created_at, claimed[order.id])
               for order in orders if order.status in VERIFIABLE]
    done += [(order.id, Verified.NOT_PAID) for order in orders if order.status not in VERIFIABLE]
    for order_id, _ in done:
        await finish(sessions, order_id, Verified.NOT_PAID)
    if not counted:
        return done
    later = [p for p in counted if p.created_at > min(p.created_at for p in counted) + BATCH_SPAN]
    if later:  # the next batch's, claimed again at once
        await release(sessions, [p.order_id for p in later], now)
        counted = [p for p in counted if p not in later]
    wanted = frozenset(payment.txn_id for payment in counted if payment.txn_id)
    try:
        listing = await payments.list_payments(wanted, min(p.created_at for p in counted) - CLOCK_SLACK)
    except PaymentError as exc:
        log.warning("verification by list (%s): the provider could not be asked: %s", provider, exc)
        listing = None
    if listing is not None and not listing.complete:
        log.warning("verification by list (%s): the list was not read back far enough; asking again", provider)
    unanswered = []
    for payment in counted:
        if listing is None:
            await ask_again(sessions, payment.order_id, now)
            verified = Verified.ASK_AGAIN
        else:
            listed = listing.found.get(payment.txn_id) if payment.txn_id else None
            judgement = judge_listed(payment, listed, listing.complete, now, wait_for)
            verified = await record(sessions, payment, listed, judgement, now)
        done.append((payment.order_id, verified))
        if verified is Verified.ASK_AGAIN and now - payment.counted_at > wait_for * STALE_AFTER:
            unanswered.append(payment)
    warn_if_stale(provider, unanswered, now)
    return done


async def release(sessions: Sessions, order_ids: list[uuid.UUID], now: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(update(PaymentVerification).where(PaymentVerification.order_id.in_(order_ids))
                              .values(due_at=now))


def warn_if_stale(provider: str, stale: list[CountedPayment], now: datetime) -> None:
    """Forged payments keep their votes while the list cannot answer for them: someone should know."""
    if stale:
        log.warning("verification by list (%s): %d payments still unverified, the oldest counted %d s ago; "
                    "their votes stand until the provider's list answers", provider, len(stale),
                    int(max(now - p.counted_at for p in stale).total_seconds()))


async def record(sessions: Sessions, payment: CountedPayment, listed: ListedPayment | None,
                 judgement: Judgement, now: datetime) -> Verified:
    """Apply a verdict: nothing but the queue entry for agreement, the refund, or the votes back off."""
    if judgement.verified is Verified.ASK_AGAIN:
        await ask_again(sessions, payment.order_id, now)
    elif judgement.verified is Verified.DISAGREED:
        status = None if listed is None else StatusResult(
            PaymentState.SUCCESSFUL, listed.amount, listed.currency, listed.txn_id, raw_status="listed")
        return await take_back(sessions, payment.order_id, judgement.reason, status)
    elif judgement.verified is Verified.REFUNDED:
        assert listed is not None
        await refunding.settle_refund(sessions, payment.order_id, listed.amount, listed.currency, listed.txn_id)
        await finish(sessions, payment.order_id, Verified.REFUNDED)
        log.info("verification of %s: %s; the refund was applied", payment.order_id, judgement.reason)
    else:
        await finish(sessions, payment.order_id, Verified.AGREED)
    return judgement.verified
