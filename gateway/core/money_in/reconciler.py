"""The reconciler: finds pending orders whose callback is late or lost, asks the provider, and
settles or expires them. It is what makes a lost callback cost a delay, never a vote."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import all_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from gateway.core.money_in.checking import StatusPace, check_payment, note_check
from gateway.core.money_in.reconciler_sweep import FoundPaid, ReconcileReport, Sweep
from gateway.core.money_in.starting import start_payment
from gateway.core.orders import closing, tables
from gateway.core.orders.outcomes import Outcome, Reconciled
from gateway.core.providers import CollectionNotFound, PaymentError, Providers
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import OrderStatus, VoteOrder

log = logging.getLogger(__name__)

FIRST_CHECK_AFTER = timedelta(seconds=30)  # give the callback its chance first
# The web process pushes a prompt at once and retries it for about a minute (gateway.core.money_in.start_queue):
# an order still unknown to its provider after that lost its start (a killed process).
NEVER_STARTED_GRACE = timedelta(seconds=75)
MAX_BACKOFF_SECONDS = 120
# A provider that cannot be asked (down, or answering nonsense) does not expire an order: the payer may
# have approved in time, and only our question failed. Past this, a person looks at what is left.
UNANSWERED_GRACE = timedelta(hours=6)
# Why an order still unpaid once its window has closed is expired, by what the reconciler found.
EXPIRY_REASONS: dict[Outcome | Reconciled, str] = {
    Outcome.PENDING: "the payer did not approve in time",
    Reconciled.NOT_FOUND: "the payment was never started with the provider",
    Reconciled.UNREACHABLE: "the provider could not be asked about the payment for hours",
}


def next_check_delay(check_count: int) -> timedelta:
    """15 s, 30 s, 60 s, then every 2 minutes: quick while a payer is approving, gentle after."""
    if check_count <= 0:
        return timedelta(0)
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 15 * 2 ** (check_count - 1)))


def is_due(created_at: datetime, last_checked_at: datetime | None, check_count: int, expires_at: datetime,
           now: datetime) -> bool:
    if now < expires_at and now - created_at < FIRST_CHECK_AFTER:
        return False
    if last_checked_at is None or (now >= expires_at > last_checked_at):  # first look, or its window closed since
        return True
    return now - last_checked_at >= next_check_delay(check_count)


async def due_orders(sessions: Sessions, now: datetime, since: datetime | None, limit: int,
                     seen: Collection[uuid.UUID] = ()) -> list[tuple[uuid.UUID, str]]:
    """(order id, provider) of the orders due, least recently checked first, but those in `seen`."""
    async with autocommit(sessions) as session:
        query = (select(VoteOrder.id, VoteOrder.provider, VoteOrder.created_at, VoteOrder.last_checked_at,
                        VoteOrder.check_count, VoteOrder.expires_at)
                 .where(VoteOrder.status == OrderStatus.PENDING,
                        or_(VoteOrder.created_at <= now - FIRST_CHECK_AFTER, VoteOrder.expires_at <= now))
                 .order_by(VoteOrder.last_checked_at.asc().nulls_first(), VoteOrder.created_at)
                 .limit(limit * 4))
        if since is not None:
            query = query.where(VoteOrder.created_at >= since)
        if seen:
            query = query.where(VoteOrder.id != all_(bindparam("seen", list(seen), type_=ARRAY(UUID(as_uuid=True)))))
        rows = (await session.execute(query)).all()
    return [(row.id, row.provider) for row in rows if is_due(row.created_at, row.last_checked_at, row.check_count,
                                                             row.expires_at, now)][:limit]


async def reconcile_order(sessions: Sessions, registry: Providers, order_id: uuid.UUID,
                          now: datetime, pace: StatusPace | None = None) -> Outcome | Reconciled:
    """Check one order with its provider; expire it if its window has passed with no payment."""
    order = await tables.get_order(sessions, order_id)
    asked = time.monotonic()
    outcome: Outcome | Reconciled
    try:
        outcome = await check_payment(sessions, registry, order_id, pace=pace)
    except CollectionNotFound:
        now += timedelta(seconds=time.monotonic() - asked)  # the answer may have waited for its turn
        if now - order.created_at < NEVER_STARTED_GRACE:
            await note_check(sessions, order_id)
            return Reconciled.NOT_STARTED_YET
        try:
            restarted = await restart_lost_push(sessions, registry, order, now)
        except PaymentError as exc:  # the provider is down: the next pass sends it, while there is time
            log.warning("reconcile: the lost prompt of %s could not be sent again: %s", order_id, exc)
            restarted = Reconciled.UNREACHABLE
        if restarted is not Reconciled.START_IN_PROGRESS:  # a start held by a dead process: look again next pass
            await note_check(sessions, order_id)
        if restarted is not None:
            return restarted
        outcome = Reconciled.NOT_FOUND
    except PaymentError as exc:
        log.warning("reconcile: %s could not be checked: %s", order_id, exc)
        await note_check(sessions, order_id)
        if now < order.expires_at + UNANSWERED_GRACE:
            return Reconciled.UNREACHABLE
        outcome = Reconciled.UNREACHABLE
    if outcome is Outcome.START_AGAIN:  # its prompt will never be paid: a new one, as for a lost start
        return await push_again(sessions, registry, order_id, now)
    if outcome in EXPIRY_REASONS and now >= order.expires_at:
        # A reason the order was given while it waited (its prompt sent again) is what the voter is told.
        if await closing.expire_order(sessions, order_id, order.status_reason or EXPIRY_REASONS[outcome]):
            return Outcome.EXPIRED
    return outcome


async def restart_lost_push(sessions: Sessions, registry: Providers, order: VoteOrder, now: datetime,
                            ) -> Reconciled | None:
    """A phone prompt lost with its web process (killed before the push went out) is sent now, with the same
    reference, while the payer can still approve it. Pages (cards, WebPay) are never restarted:
    that voter has left. Returns what happened, or None when nothing was tried."""
    if order.payment_started_at is not None or now >= order.expires_at - timedelta(minutes=2):
        return None
    if registry.for_order(order.provider, order.channel).redirects:
        return None
    outcome = await start_payment(sessions, registry, order.id)
    if outcome is None:
        return Reconciled.START_IN_PROGRESS
    return Reconciled.RESTARTED if outcome.status is OrderStatus.PENDING else None


async def push_again(sessions: Sessions, registry: Providers, order_id: uuid.UUID,
                     now: datetime) -> Outcome | Reconciled:
    """The new prompt of an order put back to be started again (`payments.starting_again`); a refusal (the phone
    still held) leaves it to the next pass, while its window lasts."""
    try:
        restarted = await restart_lost_push(sessions, registry, await tables.get_order(sessions, order_id), now)
    except PaymentError as exc:
        log.info("reconcile: the new prompt of %s is not sent yet: %s", order_id, exc)
        return Outcome.START_AGAIN
    return restarted or Outcome.START_AGAIN


async def reconcile_one(sessions: Sessions, registry: Providers, order_id: uuid.UUID, now: datetime,
                        pace: StatusPace | None) -> Outcome | Reconciled:
    """One order of a pass; whatever goes wrong with it is logged and backed off, never the end of the pass
    (an order that failed unnoted would sort first again and stop every later pass at the same place)."""
    try:
        return await reconcile_order(sessions, registry, order_id, now, pace)
    except Exception:
        log.exception("reconcile: checking %s failed; it is looked at again after its back-off", order_id)
    try:
        await note_check(sessions, order_id)
        order = await tables.get_order(sessions, order_id)
        if now >= order.expires_at + UNANSWERED_GRACE and await closing.flag_order(
                sessions, order_id, "the provider's answer could not be read for hours"):
            return Outcome.FLAGGED  # a person decides; pending forever would tell nobody
    except Exception:
        log.exception("reconcile: could not note the check of %s", order_id)
    return Reconciled.ERROR


async def reconcile(sessions: Sessions, registry: Providers, *, now: datetime | None = None,
                    since: datetime | None = None, limit: int | None = None, calls_per_second: float = 8.0,
                    pace: StatusPace | None = None, stop_after: float | None = None,
                    found: FoundPaid | None = None) -> ReconcileReport:
    """One pass over the due pending orders (`reconciler_sweep`), each at most once, until none is left
    or `limit` were looked at. Status calls take their provider's turns on `pace`, the schedule every process shares
    under its cap (MTN ~10/s, `gateway.kit.status_pacing`); a provider without one, or a pass without `pace`, is
    paced here at `calls_per_second`.

    `stop_after` (seconds) ends the pass early, between two orders; what is left is still due next pass. `found` is
    told of each order found paid, as it is.
    """
    now = now or datetime.now(UTC)

    async def check(order_id: uuid.UUID, order_now: datetime, paced: StatusPace) -> Outcome | Reconciled:
        return await reconcile_one(sessions, registry, order_id, order_now, paced)

    sweep = Sweep(check, now, limit=limit, pace=pace, calls_per_second=calls_per_second, stop_after=stop_after,
                  found=found)
    while sweep.room() > 0 and not sweep.out_of_time():
        read_at = now + timedelta(seconds=sweep.elapsed())
        batch = await due_orders(sessions, read_at, since, sweep.room(), sweep.seen)
        if not batch:
            break
        await sweep.check_all(batch)
    return sweep.report
