"""The reconciler: finds pending orders whose callback is late or lost, asks the provider, and
settles or expires them. It is what makes a lost callback cost a delay, never a vote."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select

from gateway.core.orders import closing, tables
from gateway.core.orders.outcomes import Outcome, Reconciled
from gateway.core.payments.checking import StatusPace, check_payment, note_check
from gateway.core.payments.starting import start_payment
from gateway.core.providers import CollectionNotFound, PaymentError, Providers
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import OrderStatus, VoteOrder

log = logging.getLogger(__name__)

FIRST_CHECK_AFTER = timedelta(seconds=30)  # give the callback its chance first
# The web process pushes a prompt at once and retries it for about a minute (gateway.jobs.start_queue):
# an order still unknown to its provider after that lost its start (a killed process).
NEVER_STARTED_GRACE = timedelta(seconds=75)
MAX_BACKOFF_SECONDS = 120
# A provider that cannot be asked (down, or answering nonsense) does not expire an order: the payer may
# have approved in time, and only our question failed. Past this, a person looks at what is left.
UNANSWERED_GRACE = timedelta(hours=6)
# A provider that failed this many checks in a row sits out the rest of the pass: a silent MTN costs
# a minute per check (time-outs and retries), and other providers' orders must not wait behind it.
UNREACHABLE_IN_A_ROW = 3
# Why an order still unpaid once its window has closed is expired, by what the reconciler found.
EXPIRY_REASONS: dict[Outcome | Reconciled, str] = {
    Outcome.PENDING: "the payer did not approve in time",
    Reconciled.NOT_FOUND: "the payment was never started with the provider",
    Reconciled.UNREACHABLE: "the provider could not be asked about the payment for hours",
}
# What a pass reports without listing the order as changed.
UNCHANGED = frozenset({Outcome.PENDING, Outcome.START_AGAIN, Reconciled.NOT_STARTED_YET, Reconciled.UNREACHABLE,
                       Outcome.ALREADY_DECIDED,
                       Reconciled.RESTARTED, Reconciled.START_IN_PROGRESS, Reconciled.ERROR})


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


@dataclass
class ReconcileReport:
    checked: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    changed: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    found_paid: Counter[str] = field(default_factory=Counter)  # provider -> orders it said were paid, counted here

    def summary(self) -> str:
        parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.outcomes.items()))
        return f"checked {self.checked} pending orders" + (f": {parts}" if parts else "")


async def due_orders(sessions: Sessions, now: datetime, since: datetime | None, limit: int,
                     ) -> list[tuple[uuid.UUID, str]]:
    """(order id, provider) of the orders due, least recently checked first."""
    async with autocommit(sessions) as session:
        query = (select(VoteOrder.id, VoteOrder.provider, VoteOrder.created_at, VoteOrder.last_checked_at,
                        VoteOrder.check_count, VoteOrder.expires_at)
                 .where(VoteOrder.status == OrderStatus.PENDING,
                        or_(VoteOrder.created_at <= now - FIRST_CHECK_AFTER, VoteOrder.expires_at <= now))
                 .order_by(VoteOrder.last_checked_at.asc().nulls_first(), VoteOrder.created_at)
                 .limit(limit * 4))
        if since is not None:
            query = query.where(VoteOrder.created_at >= since)
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
                    since: datetime | None = None, limit: int = 200, calls_per_second: float = 8.0,
                    pace: StatusPace | None = None, stop_after: float | None = None) -> ReconcileReport:
    """One pass over due pending orders, paced under the providers' status-call limits (MTN ~10/s).

    `stop_after` (seconds) ends the pass early, between two orders; what is left is still due next pass.
    """
    now = now or datetime.now(UTC)
    started = time.monotonic()
    report = ReconcileReport()
    failing: Counter[str] = Counter()  # checks in a row a provider could not answer, this pass
    for order_id, provider in await due_orders(sessions, now, since, limit):
        if failing[provider] >= UNREACHABLE_IN_A_ROW:
            report.outcomes[Reconciled.PROVIDER_DOWN] += 1  # still due: checked on a later pass, in its turn
            continue
        if stop_after is not None and time.monotonic() - started > stop_after:
            log.warning("reconciler pass stopped after %.0f s, %d orders checked", stop_after, report.checked)
            break
        if report.checked:
            await asyncio.sleep(1 / calls_per_second)
        # A paced pass can take minutes: each order is judged at the time it is reached.
        order_now = now + timedelta(seconds=time.monotonic() - started)
        outcome = await reconcile_one(sessions, registry, order_id, order_now, pace)
        failing[provider] = failing[provider] + 1 if outcome in (Reconciled.UNREACHABLE, Reconciled.ERROR) else 0
        report.checked += 1
        report.outcomes[outcome] += 1
        if outcome is Outcome.COUNTED:
            report.found_paid[provider] += 1
        if outcome not in UNCHANGED:
            report.changed.append((order_id, outcome))
    return report
