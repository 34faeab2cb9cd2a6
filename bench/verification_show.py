"""The show `bench.verification` verifies: its callback-counted orders (a seeded crowd, a few forged callbacks
planted among them), and the rows a real show would have left in PostgreSQL, written directly rather than voted.

Time is compressed by `scale` and the show's orders with it, the provider's cap is not: one second of the run is
`scale` seconds of the show, and the run has 1/`scale` of the show's orders, so the cap verifies the same share of
them in a scaled hour as it would in a real one. The crowd: returning fans (a paid order before the show) and new
payers, a few payers with a flagged order in their past, orders of 1 to 100 votes, a few held by a fraud rule, every
callback from one of MTN's few addresses. The forgeries: callbacks on an order's secret URL for payments MTN never
took (its status GET answers 404), one in three from a returning payer with nothing unusual, one from a number
never seen, one sent from an address and user agent MTN's callbacks never use."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, update

from gateway.core.orders.counting import confirm_payment
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, PaymentVerification, ProviderEvent, VoteOrder

PRICE = 100  # XAF a vote
QUANTITIES: tuple[tuple[int, float], ...] = ((1, 0.45), (5, 0.30), (10, 0.17), (50, 0.06), (100, 0.02))
ORDERS_PER_PAYER = 12  # on average, over the show
RETURNING_SHARE = 0.6  # of the payers: paid before the show
TROUBLED_SHARE = 0.01  # of the payers: an order flagged before the show
HELD_SHARE = 0.003  # of the orders: held by a fraud rule when paid
MTN_SENDERS = ("196.49.2.11", "196.49.2.12", "196.49.3.40")  # MTN's callbacks come from a few addresses
MTN_AGENT = "MTN-MoMo-Callback/1.0"
FORGER = {"user-agent": "python-requests/2.31.0", "x-forwarded-for": "185.220.101.7"}
FORGERIES = ("plain", "new payer", "unusual sender")
MAGIC_ENDINGS = {"450", "451", "452", "453", "454", "455", "457"}  # the sandbox's outcomes by number: avoided


@dataclass(frozen=True)
class ShowOrder:
    order_id: uuid.UUID
    reference: uuid.UUID  # the request-to-pay's at MTN (the sandbox)
    msisdn: str
    quantity: int
    at: float  # seconds after the run's show started (scaled)
    headers: dict[str, str]  # what was kept of the callback that counted it
    held: bool
    forged: str | None = None  # None: MTN took the payment; else the kind of forgery

    @property
    def amount(self) -> int:
        return self.quantity * PRICE


@dataclass(frozen=True)
class Show:
    orders: list[ShowOrder]
    returning: list[str]  # numbers with a paid order before the show
    troubled: list[str]  # numbers with a flagged order before the show
    seconds: float  # the run's show length (the real show's / scale)


def numbers(rng: random.Random, count: int) -> list[str]:
    found: set[str] = set()
    while len(found) < count:
        number = f"+2376{rng.randrange(10**8):08d}"
        if number[-3:] not in MAGIC_ENDINGS:
            found.add(number)
    return sorted(found)


def mtn_headers(rng: random.Random) -> dict[str, str]:
    return {"user-agent": MTN_AGENT, "x-forwarded-for": rng.choice(MTN_SENDERS), "content-type": "application/json"}


def plan_show(seed: int, rate: float, show_seconds: float, scale: float, forged: int) -> Show:
    """`rate` orders a second over `show_seconds` of show, compressed `scale` times; `forged` of them forged."""
    rng = random.Random(seed)
    count = round(rate * show_seconds / scale)
    seconds = show_seconds / scale
    payers = numbers(rng, max(50, count // ORDERS_PER_PAYER) + forged)
    strangers, payers = payers[:forged], payers[forged:]  # the forgers' new numbers
    returning = payers[:round(len(payers) * RETURNING_SHARE)]
    troubled = returning[:max(1, round(len(payers) * TROUBLED_SHARE))]
    popularity = [rng.paretovariate(1.2) for _ in payers]  # a few fans vote far more often than most
    quantities, weights = [quantity for quantity, _ in QUANTITIES], [weight for _, weight in QUANTITIES]
    orders = [ShowOrder(uuid.uuid4(), uuid.uuid4(), rng.choices(payers, popularity)[0],
                        rng.choices(quantities, weights)[0], rng.uniform(0, seconds), mtn_headers(rng),
                        rng.random() < HELD_SHARE)
              for _ in range(count)]
    for slot, index in enumerate(sorted(rng.sample(range(count), forged))):
        kind = FORGERIES[slot % len(FORGERIES)]
        genuine = orders[index]
        orders[index] = ShowOrder(
            genuine.order_id, genuine.reference, strangers[slot] if kind == "new payer" else rng.choice(returning),
            rng.choice((1, 5)), genuine.at, dict(FORGER) if kind == "unusual sender" else mtn_headers(rng), False,
            forged=kind)
    orders.sort(key=lambda order: order.at)
    return Show(orders, returning, troubled, seconds)


# ---- The rows ----------------------------------------------------------------------------------------------------

def order_row(order: ShowOrder, contest_id: int, candidate_id: int, status: OrderStatus) -> dict[str, object]:
    return {"id": order.order_id, "payment_reference": order.reference, "contest_id": contest_id,
            "candidate_id": candidate_id, "quantity": order.quantity, "amount": order.amount, "currency": "XAF",
            "channel": "ussd", "sends_receipt": False, "provider": "mtn", "voter_msisdn": order.msisdn,
            "status": status, "provider_data": {"reference": str(order.reference), "callback": "secret"},
            "hold_reason": "bench: held by a fraud rule" if order.held else None,
            "expires_at": datetime.now(UTC) + timedelta(minutes=10)}


def days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def seed_history(sessions: Sessions, show: Show, contest_id: int, candidate_id: int) -> None:
    """Each returning payer's paid order and each troubled payer's flagged one, from before the show (verified)."""
    rng = random.Random(0)
    past = [(number, OrderStatus.PAID) for number in show.returning]
    past += [(number, OrderStatus.FLAGGED) for number in show.troubled]
    async with sessions.begin() as session:
        for start in range(0, len(past), 1000):
            rows = [order_row(ShowOrder(uuid.uuid4(), uuid.uuid4(), number, 1, 0, {}, False), contest_id,
                              candidate_id, status) | {"created_at": days_ago(rng.randint(1, 30))}
                    for number, status in past[start:start + 1000]]
            await session.execute(insert(VoteOrder.__table__), rows)


async def seed_genuine(sessions: Sessions, orders: list[ShowOrder], contest_id: int, candidate_id: int,
                       first_wait: timedelta) -> None:
    """Orders counted from MTN's callbacks just now: paid (or held), their callbacks kept, queued for verification
    after `first_wait` (`counting.FIRST_VERIFY_AFTER`, scaled)."""
    if not orders:
        return
    now = datetime.now(UTC)  # the database's clock: the same machine's
    async with sessions.begin() as session:
        await session.execute(insert(VoteOrder.__table__), [
            order_row(order, contest_id, candidate_id, OrderStatus.HELD if order.held else OrderStatus.PAID)
            | {"decided_at": now, "provider_txn_id": f"mtn-{order.reference.hex[:12]}"} for order in orders])
        await session.execute(insert(ProviderEvent.__table__), [event_row(order) for order in orders])
        await session.execute(insert(PaymentVerification.__table__), [
            {"order_id": order.order_id, "due_at": now + first_wait} for order in orders])


def event_row(order: ShowOrder) -> dict[str, object]:
    body = {"status": "SUCCESSFUL", "externalId": str(order.order_id), "amount": str(order.amount),
            "currency": "XAF", "financialTransactionId": f"mtn-{order.reference.hex[:12]}"}
    return {"provider": "mtn", "order_id": order.order_id, "kind": "callback.successful", "headers": order.headers,
            "body": json.dumps(body), "outcome": "held" if order.held else "counted"}


async def seed_forged(sessions: Sessions, order: ShowOrder, contest_id: int, candidate_id: int,
                      first_wait: timedelta) -> None:
    """A forged callback counted as a genuine one is: through the counting statement, its votes in the tally and
    on the ledger (so that taking them back is the real thing), then its kept callback and its scaled wait."""
    async with sessions.begin() as session:
        await session.execute(insert(VoteOrder.__table__), [order_row(order, contest_id, candidate_id,
                                                                      OrderStatus.PENDING)])
    await confirm_payment(sessions, order.order_id, "SUCCESSFUL", order.amount, "XAF", "forged-txn",
                          provider="mtn", verify_later=True)
    async with sessions.begin() as session:
        await session.execute(insert(ProviderEvent.__table__), [event_row(order)])
        await session.execute(update(PaymentVerification).where(PaymentVerification.order_id == order.order_id)
                              .values(due_at=func.now() + first_wait))
