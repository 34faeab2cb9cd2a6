"""Orders counted on an authenticated callback's word (MTN's per-order URL secret, Orange's notif_token),
checked afterwards with the provider's status: the most money at risk first, a random sample next, then the
oldest, with one claim in ten the oldest whatever its rank (`gateway.core.money_in.verification.priority` says why).

The queue is the `payment_verifications` table, filled by the statement that counts the order: a restart
loses nothing. A process claims one due entry at a time (its due time moves on by `CLAIM_LEASE`, so an
entry whose checker died is due again), asks the provider within its status-call cap, and records what
it said. Agreement (SUCCESSFUL, the order's amount and currency) marks the entry verified. Anything else
definite takes the votes back off in one transaction: tally, order flagged for a person (`gateway
review`), audit entry, outbox rows that move the board. A provider that cannot answer, or still says
pending, is asked again later. Stars payments (counted on the word of a secret-checked webhook) wait
in the same queue, but a provider without a status call is verified against its list of payments, many
entries at once (`gateway.core.money_in.verification.by_list`); `claim_next` leaves them to that pass.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, Update, all_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money import money_text
from gateway.core.money_in.checking import StatusPace, word_on
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.verification.priority import ClaimTurns
from gateway.core.orders import accounting
from gateway.core.providers import PaymentError, PaymentState, Providers, StatusResult
from gateway.core.results import ledger
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import AuditEntry, OrderStatus, OutboxMessage, PaymentVerification, VoteOrder

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)  # a claimed entry is due again after this (its checker died)
ASK_AGAIN_AFTER = timedelta(seconds=30)  # the provider could not answer, or still says pending
PENDING_TURNS = 20  # still pending at the provider after this many looks (~10 minutes): a disagreement
DISAGREED = "verification_disagreed"  # the flagged order's reason starts with this


class Verified(StrEnum):
    AGREED = "agreed"
    DISAGREED = "disagreed"  # the votes were taken back off, the order flagged
    ASK_AGAIN = "ask_again"
    NOT_PAID = "not_paid"  # the order left `paid` meanwhile (refunded, flagged): nothing to verify
    REFUNDED = "refunded"  # the provider lists the payment given back: the refund was applied (votes off)


@dataclass(frozen=True)
class Judgement:
    verified: Verified
    reason: str = ""


def judge(amount: int, currency: str, status: StatusResult | None, attempts: int) -> Judgement:
    """What the provider's status says of a payment we counted (None: it has no such payment)."""
    if status is None:
        return Judgement(Verified.DISAGREED, "the provider has no such payment")
    if status.state is PaymentState.PENDING:
        if attempts >= PENDING_TURNS:
            return Judgement(Verified.DISAGREED, "the provider still says pending long after its callback")
        return Judgement(Verified.ASK_AGAIN)
    if status.state is not PaymentState.SUCCESSFUL:
        return Judgement(Verified.DISAGREED, f"the provider's status is {status.raw_status or status.state.value}")
    if status.amount != amount or (status.currency or "").upper() != currency.upper():
        return Judgement(Verified.DISAGREED, f"the provider took {money_text(status.amount, status.currency)}, "
                                             f"the order is {money_text(amount, currency)}")
    return Judgement(Verified.AGREED)


QUEUE = PaymentVerification.__table__.c
ORDERS = VoteOrder.__table__.c


def claim_statement(*order: ColumnElement[Any]) -> Update:
    """Lock and lease the first due entry in `order`; skipped: one another process holds."""
    return (update(PaymentVerification.__table__)
            .where(QUEUE.order_id == select(QUEUE.order_id)
                   .join(VoteOrder.__table__, ORDERS.id == QUEUE.order_id)
                   .where(QUEUE.verified_at.is_(None), QUEUE.due_at <= bindparam("claim_now"),
                          # a provider verified against its list of payments has a pass of its own
                          ORDERS.provider != all_(bindparam("claim_skip", type_=ARRAY(String))))
                   .order_by(*order).limit(1)
                   .with_for_update(of=PaymentVerification.__table__, skip_locked=True).scalar_subquery())
            .values(due_at=bindparam("claim_now") + CLAIM_LEASE, attempts=QUEUE.attempts + 1)
            .returning(QUEUE.order_id, QUEUE.attempts))


CLAIM_OLDEST = claim_statement(QUEUE.due_at, QUEUE.queued_at)
# By rank (unranked entries last), oldest first among equals: along ix_payment_verifications_priority.
CLAIM_RANKED = claim_statement(QUEUE.priority.desc().nulls_last(), QUEUE.queued_at)


async def claim_next(sessions: Sessions, now: datetime, skip: Sequence[str] = (), *,
                     oldest_first: bool = False) -> tuple[uuid.UUID, int] | None:
    """The due entry of the highest rank (`oldest_first`: the oldest due entry), claimed for this process (None:
    nothing is due). `skip`: providers whose payments are verified by list (`Providers.payment_lists`,
    `gateway.core.money_in.verification.by_list`)."""
    async with sessions.begin() as session:
        row = (await session.execute(CLAIM_OLDEST if oldest_first else CLAIM_RANKED,
                                     {"claim_now": now, "claim_skip": list(skip)})).one_or_none()
    return None if row is None else (row.order_id, row.attempts)


async def verify_next(sessions: Sessions, registry: Providers, *, pace: StatusPace | None = None,
                      now: datetime | None = None,
                      turns: ClaimTurns | None = None) -> tuple[uuid.UUID, Verified] | None:
    """Verify the next due entry (`turns`: by rank or the oldest; by rank without); None when none is due."""
    claimed = await claim_next(sessions, now or datetime.now(UTC), list(registry.payment_lists()),
                               oldest_first=turns is not None and turns.oldest_first())
    if claimed is None:
        return None
    return claimed[0], await verify_claimed(sessions, registry, *claimed, pace=pace, now=now)


async def verify_claimed(sessions: Sessions, registry: Providers, order_id: uuid.UUID, attempts: int, *,
                         pace: StatusPace | None = None, now: datetime | None = None) -> Verified:
    """Ask the provider about an entry this process claimed, and record what it said; `now`: the clock it was
    claimed by (the real one without), which sets its next look where it runs ahead (`ask_again`)."""
    async with autocommit(sessions) as session:
        loaded = await load_collection(session, order_id)
    if loaded is None or loaded[0].status not in VERIFIABLE:
        await finish(sessions, order_id, Verified.NOT_PAID)
        return Verified.NOT_PAID
    order, collection = loaded
    try:
        status = await word_on(registry.for_order(order.provider, order.channel), collection, pace)
    except PaymentError as exc:
        log.warning("verification of %s: the provider could not be asked: %s", order_id, exc)
        await ask_again(sessions, order_id, now)
        return Verified.ASK_AGAIN
    judgement = judge(order.amount, order.currency, status, attempts)
    if judgement.verified is Verified.ASK_AGAIN:
        await ask_again(sessions, order_id, now)
    elif judgement.verified is Verified.DISAGREED:
        return await take_back(sessions, order_id, judgement.reason, status)
    else:
        await finish(sessions, order_id, Verified.AGREED)
    return judgement.verified


async def verify_due(sessions: Sessions, registry: Providers, *, pace: StatusPace | None = None,
                     limit: int = 1000, now: datetime | None = None, turns: ClaimTurns | None = None,
                     stop_after: float | None = None) -> list[tuple[uuid.UUID, Verified]]:
    """Up to `limit` due entries, one after the other, by rank with the oldest's turns (a reconciler pass's
    share); `stop_after` (seconds) claims no more after that long."""
    done = []
    turns = turns or ClaimTurns()
    started = time.monotonic()
    for _ in range(limit):
        if stop_after is not None and time.monotonic() - started > stop_after:
            break
        result = await verify_next(sessions, registry, pace=pace, now=now, turns=turns)
        if result is None:
            break
        done.append(result)
    return done


async def finish(sessions: Sessions, order_id: uuid.UUID, verified: Verified, reason: str = "") -> None:
    async with sessions.begin() as session:
        await mark_done(session, order_id, verified, reason)


async def mark_done(session: AsyncSession, order_id: uuid.UUID, verified: Verified, reason: str = "") -> None:
    outcome = f"{verified.value}:{reason}" if reason else verified.value
    await session.execute(update(PaymentVerification).where(PaymentVerification.order_id == order_id)
                          .values(verified_at=func.now(), outcome=outcome[:100]))


async def ask_again(sessions: Sessions, order_id: uuid.UUID, now: datetime | None) -> None:
    """Due again ASK_AGAIN_AFTER from now, or from the clock the entry was claimed by where that runs ahead (a
    catch-up's, a test's: a pass then looks at it once, not again at every claim). Not from a pass's start: a list
    read that took minutes would leave the entry due at once, read again back to back."""
    real = datetime.now(UTC)
    async with sessions.begin() as session:
        await session.execute(update(PaymentVerification).where(PaymentVerification.order_id == order_id)
                              .values(due_at=max(real, now or real) + ASK_AGAIN_AFTER))


async def take_back(sessions: Sessions, order_id: uuid.UUID, reason: str, status: StatusResult | None) -> Verified:
    """The provider disagrees with the callback we counted: in one transaction, the votes leave the tally,
    the order is flagged for a person, an audit entry says why, the board is told; the entry is done."""
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        if order is None or order.status not in VERIFIABLE:  # refunded or flagged meanwhile
            await mark_done(session, order_id, Verified.NOT_PAID)
            return Verified.NOT_PAID
        counted = order.status is OrderStatus.PAID  # a held order's votes never reached the tally
        if counted:  # the reversal on the ledger, and the tally with it (gateway.core.results.ledger)
            await accounting.record_change(session, ledger.EntryKind.REVERSED, order, sign=-1)
        order.status = OrderStatus.FLAGGED
        order.status_reason = f"{DISAGREED}: {reason}" + ("; the votes were taken back off" if counted else "")
        order.decided_at = datetime.now(UTC)
        details = {"provider": order.provider, "reason": reason, "quantity": order.quantity,
                   "amount": order.amount, "currency": order.currency,
                   "provider_status": status.raw_status if status else None,
                   "provider_amount": status.amount if status else None}
        session.add(AuditEntry(actor="system", action="payment.verification_disagreed", target=str(order_id),
                               details=details))
        payload = {"order_id": str(order_id), "contest_id": order.contest_id}
        topics = ["vote.uncounted", "order.flagged"] if counted else ["order.flagged"]
        await session.execute(insert(OutboxMessage), [{"topic": topic, "payload": payload} for topic in topics])
        await mark_done(session, order_id, Verified.DISAGREED, reason)
    log.warning("verification of %s: %s; its %d votes were taken back off", order_id, reason, order.quantity)
    return Verified.DISAGREED


# Paid, or paid and held by a fraud rule (gateway.core.fraud.holds): either way money the provider must confirm.
VERIFIABLE = (OrderStatus.PAID, OrderStatus.HELD)
BACKLOG = select(func.count(), func.min(PaymentVerification.queued_at)).where(PaymentVerification.verified_at.is_(None))


async def backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """Entries not verified yet, and when the oldest of them was queued (for /metrics)."""
    count, oldest = (await session.execute(BACKLOG)).one()
    return int(count), oldest
