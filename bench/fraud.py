"""A simulated show night replayed through the vote core, against its ground truth: what the fraud rules catch.

    python -m bench.fraud [--seed 1] [--voters 5000] [--minutes 120] [--no-record]

`bench.crowd` makes the night: honest fans and four attack families, each order knowing who is behind it. The rules
can only be judged on such a night (a real one's truth is unknown), so this replays it in-process through the core's
own placing, counting and chargebacks, with the worker's learning of shared addresses every ten minutes (no web
process, no provider: `bench.votes` measures those), on embedded PostgreSQL and Redis in a scratch folder, on a
simulated clock (the rules count over the show's minutes and hours, not the replay's); each fate is read at the end.

It prints each attack family's recall, the honest crowd held, the holds' precision, and PostgreSQL's CPU per order over
the night's first and last orders (a late/early ratio well above 1: a rule counts slower as the night goes)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assembly.channel_list import CONTEST_SETTINGS, MIGRATIONS
from assembly.machine.embedded import service_urls
from assembly.provider_list import provider
from bench.crowd import CANDIDATES, CARRIER_NETWORKS, HONEST, CrowdOrder, show_night
from bench.harness import print_report, record
from gateway.core.errors import RateLimited, VoteRejected
from gateway.core.fraud.rules import Rule
from gateway.core.fraud.shared_addresses import carrier_of
from gateway.core.fraud.shared_learning import learn_shared_addresses
from gateway.core.money_in.chargebacks import record_chargeback
from gateway.core.orders.closing import fail_order
from gateway.core.orders.counting import confirm_payment
from gateway.core.orders.held_together import hold_earlier
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.core.orders.placing import OrderRequest, place_order
from gateway.core.providers import PaymentRisk
from gateway.db import migrate
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.models import Candidate, Contest, ContestStatus, VoteOrder
from gateway.db.seed import ensure_tallies

SLUG = "fraud-night"
CONCURRENCY = 8  # orders in flight at once (never two of one person)
PENDING_TTL = timedelta(minutes=10)
LEARNING_EVERY = 600.0  # seconds: the worker's pass that learns shared addresses (gateway/core/fraud/passes.py)
WINDOW = 5000  # PostgreSQL's CPU per order over the night's first and last this many orders
# The contest's hard limits per payer number (they refuse, before any prompt): generous, so that the fraud rules
# (which hold) are what is measured; no honest fan orders ten times in a minute.
HARD_LIMITS = {"max_orders_per_minute": 10, "max_orders_per_day": 1000}


# ---- The adapter: the one place that knows the core's signatures ------------------------------------------------

async def place(sessions: Sessions, order: CrowdOrder, index: int, now: datetime, slug: str = SLUG) -> VoteOrder:
    """Place a crowd order as its channel would, at the simulated `now` (no receipt: nobody to send it to)."""
    request = OrderRequest(slug, order.candidate, order.quantity, order.provider, order.channel, msisdn=order.msisdn,
                           voter_ref=order.voter_ref, client_key=f"crowd:{index}", voter_address=order.address)
    return await place_order(sessions, request, capabilities=provider(order.provider).capabilities,
                             pending_ttl=PENDING_TTL, sends_receipt=False, now=now)


async def confirm(sessions: Sessions, placed: VoteOrder, order: CrowdOrder, index: int,
                  now: datetime) -> ConfirmOutcome:
    """The provider's success, with what Stripe says of a card payment (Radar's risk level, the card's country)."""
    risk = PaymentRisk(provider_risk=order.provider_risk, card_country=order.card_country) \
        if order.provider == "stripe" else None
    outcome = await confirm_payment(sessions, placed.id, "SUCCESSFUL", placed.amount, placed.currency,
                                    f"crowd-{index}", provider=placed.provider, now=now, risk=risk)
    if outcome is ConfirmOutcome.HELD:  # what the worker does with the held order's outbox row
        await hold_earlier(sessions, placed.id)
    return outcome


async def abandon(sessions: Sessions, placed: VoteOrder, now: datetime) -> None:
    """The voter never approved the prompt: the provider reports the payment failed."""
    await fail_order(sessions, placed.id, "the voter did not approve the payment")


async def charge_back(sessions: Sessions, order_id: uuid.UUID, now: datetime) -> None:
    """The card's owner disputed the payment."""
    await record_chargeback(sessions, order_id, now=now)


async def learn(sessions: Sessions, now: datetime) -> None:
    """The worker's pass over the addresses many payers share, on the night's clock."""
    await learn_shared_addresses(sessions, now)


# ---- The night ----------------------------------------------------------------------------------------------------

@dataclass
class Fate:
    """What became of one crowd order during the replay (its final status is read from the database after)."""

    order_id: uuid.UUID | None = None
    refused: str | None = None  # the refusal's code
    before_chargeback: str | None = None  # its status when the dispute came


@dataclass
class Meter:
    """PostgreSQL's CPU seconds (every process of the cluster) at the start, after the first `window` orders, when
    the last `window` begin, and at the end."""

    postmaster: int
    total: int
    window: int
    done: int = 0
    marks: dict[int, tuple[float, float]] = field(default_factory=dict)  # backends', the rest's

    def tick(self) -> None:
        self.done += 1
        if self.done in (self.window, self.total - self.window, self.total):
            self.marks[self.done] = postgres_cpu_seconds(self.postmaster)

    def per_order_ms(self, first: bool) -> tuple[float, float]:
        """The backends' and the rest's milliseconds per order over the first or the last `window` orders."""
        start, end = (0, self.window) if first else (self.total - self.window, self.total)
        (backends, rest), (backends_after, rest_after) = self.marks[start], self.marks[end]
        scale = 1000 / max(self.window, 1)
        return (backends_after - backends) * scale, (rest_after - rest) * scale


@dataclass
class Replayed:
    fates: list[Fate]
    statuses: dict[uuid.UUID, tuple[str, str | None]]  # each order's status and hold reason at the end
    meter: Meter
    wall: float


def postgres_cpu_seconds(postmaster: int) -> tuple[float, float]:
    """User + system CPU seconds of the cluster's processes (read from /proc as bench.harness.cpu_seconds reads
    them): the connections' backends, and the rest (the postmaster with the children it reaped, such as
    autovacuum's workers, the WAL writer, the checkpointer). A growing cost per order is in one or the other."""
    tick, parents, times = os.sysconf("SC_CLK_TCK"), {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = sum(int(value) for value in fields[11:15]) / tick
    ours = {postmaster}
    while more := {pid for pid, parent in parents.items() if parent in ours} - ours:
        ours |= more
    backends = sum(times.get(pid, 0.0) for pid in ours if is_backend(pid))
    return backends, sum(times.get(pid, 0.0) for pid in ours) - backends


def is_backend(pid: int) -> bool:
    """A connection's backend (its title names the client: "postgres: postgres gateway [local] idle")."""
    try:
        return b"[local]" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def open_show(sessions: Sessions, start: datetime, last: float, slug: str = SLUG) -> int:
    """The night's contest as tests/factories.make_contest makes one: 20 candidates, 100 XAF a vote (10 Stars),
    the default fraud rules, open from before the show until a day after its last order."""
    form = {"ussd_service_codes": ["*384*999#"], "sms_short_code": "20999", "sms_keyword": "VOTE",
            "telegram_mobile_money": True}
    async with sessions.begin() as session:
        contest = Contest(slug=slug, name="Fraud night", status=ContestStatus.OPEN,
                          opens_at=start - timedelta(hours=1), closes_at=start + timedelta(seconds=last, days=1),
                          price_per_vote=100, currency="XAF", max_votes_per_order=100, stars_per_vote=10,
                          providers=["mtn", "orange", "stripe"], **HARD_LIMITS)
        session.add(contest)
        await session.flush()
        for channel in CONTEST_SETTINGS:
            await channel.parse(form).save(session, contest.id)
        session.add_all(Candidate(contest_id=contest.id, code=code, name=f"Candidate {code}") for code in CANDIDATES)
        await session.flush()
        await ensure_tallies(session, contest.id)
        return contest.id


async def order_step(sessions: Sessions, order: CrowdOrder, index: int, fate: Fate, now: datetime,
                     meter: Meter, slug: str = SLUG) -> None:
    """Place one order, then pay it (or not) at the same simulated instant."""
    try:
        placed = await place(sessions, order, index, now, slug)
    except (VoteRejected, RateLimited) as refusal:
        fate.refused = refusal.code
    else:
        fate.order_id = placed.id
        if order.pays:
            await confirm(sessions, placed, order, index, now)
        else:
            await abandon(sessions, placed, now)
    meter.tick()


async def dispute_step(sessions: Sessions, fate: Fate, now: datetime) -> None:
    """A stolen card's payment disputed: it was caught if it was held by then (after, everyone knows)."""
    if fate.order_id is None:
        return
    async with sessions() as session:
        status = await session.scalar(select(VoteOrder.status).where(VoteOrder.id == fate.order_id))
    fate.before_chargeback = str(status)
    await charge_back(sessions, fate.order_id, now)


def timeline(crowd: Sequence[CrowdOrder]) -> list[tuple[float, int, str]]:
    """Orders, disputes and the worker's learning passes (index -1) by simulated time: (at, index, what)."""
    events = [(order.at, index, "order") for index, order in enumerate(crowd)]
    events += [(order.charged_back_at, index, "dispute") for index, order in enumerate(crowd)
               if order.charged_back_at is not None]
    events += [(pass_ * LEARNING_EVERY, -1, "learn") for pass_ in range(1, int(crowd[-1].at // LEARNING_EVERY) + 1)]
    return sorted(events)


async def after(previous: asyncio.Task[None] | None, step: Coroutine[Any, Any, None]) -> None:
    """Run `step` once the person's previous step is done (its failure is reported by its own task)."""
    if previous is not None:
        await asyncio.wait([previous])
    await step


async def replay(sessions: Sessions, crowd: Sequence[CrowdOrder], start: datetime, meter: Meter,
                 slug: str = SLUG) -> list[Fate]:
    """Every step in time order, CONCURRENCY at once, one person's (or the worker's) one after another."""
    fates = [Fate() for _ in crowd]
    slots, failures = asyncio.Semaphore(CONCURRENCY), []
    last: dict[str, asyncio.Task[None]] = {}

    def finished(task: asyncio.Task[None]) -> None:
        slots.release()
        if not task.cancelled() and task.exception() is not None:
            failures.append(task.exception())

    for at, index, what in timeline(crowd):
        await slots.acquire()
        if failures:
            raise RuntimeError("a step of the replay failed") from failures[0]
        now, person = start + timedelta(seconds=at), crowd[index].person if index >= 0 else "the worker"
        if what == "learn":
            step = learn(sessions, now)
        elif what == "dispute":
            step = dispute_step(sessions, fates[index], now)
        else:
            step = order_step(sessions, crowd[index], index, fates[index], now, meter, slug)
        last[person] = asyncio.create_task(after(last.get(person), step))
        last[person].add_done_callback(finished)
    await asyncio.wait(last.values())
    if failures:
        raise RuntimeError("a step of the replay failed") from failures[0]
    return fates


async def run_night(database_url: str, crowd: Sequence[CrowdOrder], pgdata: Path) -> Replayed:
    engine = create_engine(database_url, pool_size=CONCURRENCY + 2)
    sessions = session_factory(engine)
    try:
        start = datetime.now(UTC).replace(second=0, microsecond=0)
        contest_id = await open_show(sessions, start, max(order.charged_back_at or order.at for order in crowd))
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
        meter = Meter(postmaster, len(crowd), min(WINDOW, len(crowd) // 2))
        meter.marks[0] = postgres_cpu_seconds(postmaster)
        began = time.monotonic()
        fates = await replay(sessions, crowd, start, meter)
        wall = time.monotonic() - began
        async with sessions() as session:
            rows = await session.execute(select(VoteOrder.id, VoteOrder.status, VoteOrder.hold_reason)
                                         .where(VoteOrder.contest_id == contest_id))
            statuses = {order_id: (str(status), reason) for order_id, status, reason in rows}
    finally:
        await engine.dispose()
    return Replayed(fates, statuses, meter, wall)


# ---- The figures --------------------------------------------------------------------------------------------------

@dataclass
class Caught:
    """One family's orders and what the rules made of them."""

    orders: int = 0
    paid: int = 0  # placed, and the payment went through
    refused: int = 0
    held: int = 0  # paid and held (a disputed one only if held before its dispute)
    paid_votes: int = 0
    held_votes: int = 0
    rules: Counter[str] = field(default_factory=Counter)  # the signals named by its holds

    @property
    def recall(self) -> float:
        return (self.held + self.refused) / max(self.paid + self.refused, 1)


def caught(orders: Sequence[tuple[CrowdOrder, Fate]], statuses: dict[uuid.UUID, tuple[str, str | None]]) -> Caught:
    found = Caught(orders=len(orders))
    for order, fate in orders:
        found.refused += fate.refused is not None
        if fate.order_id is None or not order.pays:
            continue
        status, reason = statuses[fate.order_id]
        held = (fate.before_chargeback if order.charged_back_at is not None else status) == "held"
        found.paid, found.paid_votes = found.paid + 1, found.paid_votes + order.quantity
        if held:
            found.held, found.held_votes = found.held + 1, found.held_votes + order.quantity
            found.rules.update(rule.value for rule in Rule if f"{rule.value}:" in (reason or ""))
    return found


def carrier_voters_held(crowd: Sequence[CrowdOrder], replayed: Replayed) -> tuple[int, int]:
    """Honest voters on a carrier's NAT address who had an order held, of all such voters: a crowd's address must
    not make its people suspects."""
    behind, held = set(), set()
    for order, fate in zip(crowd, replayed.fates, strict=True):
        if order.family == HONEST and carrier_of(order.address) is not None:
            behind.add(order.person)
            if fate.order_id is not None and replayed.statuses[fate.order_id][0] == "held":
                held.add(order.person)
    return len(held), len(behind)


def figures(crowd: Sequence[CrowdOrder], replayed: Replayed, title: str) -> dict[str, str]:
    by_family: dict[str, list[tuple[CrowdOrder, Fate]]] = {}
    for order, fate in zip(crowd, replayed.fates, strict=True):
        by_family.setdefault(order.family, []).append((order, fate))
    found = {family: caught(orders, replayed.statuses) for family, orders in by_family.items()}
    all_held = sum(family.held for family in found.values())
    attacks = {name: family for name, family in found.items() if name != HONEST}
    lines = {"night": f"{title}: {len(crowd)} orders, {sum(f.orders for f in attacks.values())} of them attacks"}
    for name, family in attacks.items():
        lines[name] = (f"{family.orders} orders, {family.paid} paid, {family.refused} refused, {family.held} held: "
                       f"recall {family.recall:.1%}; {family.held / max(all_held, 1):.1%} of all holds; "
                       f"signals {rules_text(family.rules)}")
    honest = found[HONEST]
    lines["honest held"] = (f"{honest.held} of {honest.paid} paid orders ({honest.held / max(honest.paid, 1):.2%}), "
                            f"{honest.held_votes} of {honest.paid_votes} paid votes "
                            f"({honest.held_votes / max(honest.paid_votes, 1):.2%}); {honest.refused} refused; "
                            f"signals {rules_text(honest.rules)}")
    lines["honest voters on carrier addresses held"] = "{} of {}".format(*carrier_voters_held(crowd, replayed))
    lines["precision of holds"] = (f"{(all_held - honest.held) / max(all_held, 1):.1%} "
                                   f"({all_held - honest.held} of {all_held} holds were attacks)")
    meter = replayed.meter
    (early, early_rest), (late, late_rest) = meter.per_order_ms(first=True), meter.per_order_ms(first=False)
    lines["PostgreSQL CPU per order"] = (
        f"first {meter.window}: {early + early_rest:.2f} ms, last {meter.window}: {late + late_rest:.2f} ms "
        f"(late/early {(late + late_rest) / max(early + early_rest, 1e-9):.2f}; backends {early:.2f} -> {late:.2f} "
        f"ms, the rest {early_rest:.2f} -> {late_rest:.2f} ms)")
    lines["wall time"] = (f"{replayed.wall:.1f} s, {len(crowd) / max(replayed.wall, 1e-9):.0f} orders/s "
                          f"({CONCURRENCY} at once, in process)")
    return lines


def rules_text(rules: Counter[str]) -> str:
    return ", ".join(f"{rule} {n}" for rule, n in rules.most_common()) or "none"


def check_ground_truth(crowd: Sequence[CrowdOrder]) -> None:
    """The crowd copies the carriers' networks (bench.crowd.CARRIER_NETWORKS): the core must still take exactly
    those addresses for a crowd's, or the figures would judge the rules against a wrong truth."""
    networks = [ipaddress.IPv4Network(net) for nets in CARRIER_NETWORKS.values() for net in nets]
    for address in {order.address for order in crowd if order.address}:
        if any(ipaddress.IPv4Address(address) in net for net in networks) != (carrier_of(address) is not None):
            raise SystemExit(f"{address}: bench.crowd and gateway/core/fraud/data/carrier_networks.csv disagree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--voters", type=int, default=5000, help="honest voters")
    parser.add_argument("--minutes", type=float, default=120, help="the show's length")
    parser.add_argument("--no-record", dest="record", action="store_false", help="leave bench/RESULTS.md alone")
    args = parser.parse_args()
    crowd = show_night(args.seed, args.voters, args.minutes)
    check_ground_truth(crowd)
    data = Path(tempfile.mkdtemp(prefix="ballot-fraud-", dir="/tmp"))
    try:
        with service_urls(None, None, data) as urls:
            migrate.upgrade(urls.database_url, MIGRATIONS)
            replayed = asyncio.run(run_night(urls.database_url, crowd, data / "postgres"))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    title = f"Fraud night (seed {args.seed}, {args.voters} honest voters, {args.minutes:g} minutes)"
    report = print_report(title, figures(crowd, replayed, title))
    if args.record:
        record("fraud", report)


if __name__ == "__main__":
    main()
