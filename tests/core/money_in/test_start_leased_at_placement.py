"""A start the order's own insert leased: the vote's prompt goes out with no claim of its own (a statement and a
commit fewer), a lease left waiting too long is renewed by one claim, a vote its channel may still cancel is not
leased, and one whose process died is the reconciler's once its lease runs out, with a single prompt."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import event, func, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.settings import Settings
from assembly.web.keys import ENGINE
from gateway.core.money_in import starting
from gateway.core.money_in.reconciler import reconcile
from gateway.core.money_in.start_queue import PaymentStarts
from gateway.core.orders import closing, placing, tables
from gateway.core.orders.count_batches import CountBatches
from gateway.core.service import VoteService
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from gateway.kit.keys import PROVIDERS
from leaderboard.boards import Boards
from payments.local_sandbox import sandbox_address
from payments.mtn import MtnMomoCollection
from payments.mtn.provider import mtn_credentials
from tests.channel_names import Channel
from tests.factories import PENDING_TTL, make_contest
from tests.fakes.mtn import FakeMtn, vote
from tests.provider_registry import capabilities_of, registry_of
from tests.waiting import until

CLAIM = "SET start_lease_until=(now() +"  # the claim's own statement (`starting.CLAIM_START`)


@contextlib.contextmanager
def statements_run(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements the engine runs meanwhile (not those asyncpg runs itself: `DriverStatement`)."""
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def leased_order(sessions: Sessions, slug: str, msisdn: str = "+237670000001") -> placing.PlacedOrder:
    request = placing.OrderRequest(slug, "01", 2, "mtn", Channel.WEB, msisdn=msisdn)
    return await placing.placed_order(sessions, request, capabilities=capabilities_of("mtn"), pending_ttl=PENDING_TTL,
                                      start_lease=starting.START_LEASE)


async def test_a_vote_pushed_at_once_has_its_prompt_sent_with_no_claim_of_its_own(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    await make_contest(sessions, slug="gala")
    with statements_run(client.app[ENGINE]) as statements:
        order_id = await vote(client, "gala")
    order = await tables.get_order(sessions, order_id)
    assert fake_mtn.pay_calls == 1 and order.payment_started_at is not None and order.start_lease_until is None
    assert order.start_attempted_at is not None  # from its insert on, the prompt may be on the phone
    # The vote's own statements are asyncpg's (unseen here); a claim is SQLAlchemy's, seen (the test below).
    assert not [statement for statement in statements if CLAIM in statement]


async def test_a_start_leased_at_placement_that_waited_for_its_turn_renews_the_lease_in_one_claim(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    await make_contest(sessions, slug="gala")
    placed = await leased_order(sessions, "gala")
    # It waited behind other prompts past its freshness: its lease would leave the provider's call short.
    waited = asyncio.get_running_loop().time() - starting.CLAIM_KEPT_SECONDS - 1
    claimed = starting.claimed_at_placement(placed, waited)
    assert claimed is not None
    with statements_run(sessions.kw["bind"]) as statements:
        outcome = await starting.start_payment(sessions, client.app[PROVIDERS], placed.order.id, claimed)
    assert outcome is not None and outcome.status is OrderStatus.PENDING and fake_mtn.pay_calls == 1
    assert len([statement for statement in statements if CLAIM in statement]) == 1  # renewed, nothing given back
    order = await tables.get_order(sessions, placed.order.id)
    assert order.payment_started_at is not None and order.start_lease_until is None


async def test_a_vote_its_channel_may_cancel_before_the_prompt_is_not_leased(
    client: TestClient, sessions: Sessions, redis: Redis
) -> None:
    """USSD: a session that fails before its prompt is tried cancels the order; a lease would mark it tried."""
    await make_contest(sessions, slug="gala")

    class Held:  # prompts owed, none pushed yet
        claims_at_placement = True

        def request(self, order_id: object, *, after: float = 0.0, claimed: object = None) -> None: ...

        async def wait_for_room(self) -> None: ...

    service = VoteService(sessions, client.app[PROVIDERS], Boards(sessions, redis, 60), Held(),
                          pending_ttl=PENDING_TTL, receipt_channels=frozenset())
    ussd, web = (placing.OrderRequest("gala", "01", 1, "mtn", channel, msisdn=f"+23767000000{n}")
                 for n, channel in enumerate((Channel.USSD, Channel.WEB)))
    cancellable = (await service.place_vote(ussd, cancellable=True)).order
    leased = (await service.place_vote(web)).order
    assert await closing.cancel_if_unstarted(sessions, cancellable.id, "USSD session ended Failed")
    assert not await closing.cancel_if_unstarted(sessions, leased.id, "no")  # its start may be at MTN already


async def test_a_replayed_vote_is_not_started_again_under_a_lease(sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    request = placing.OrderRequest("gala", "01", 1, "mtn", Channel.WEB, msisdn="+237670000001", client_key="k1")
    mtn = capabilities_of("mtn")
    first = await placing.placed_order(sessions, request, capabilities=mtn, pending_ttl=PENDING_TTL,
                                       start_lease=starting.START_LEASE)
    again = await placing.placed_order(sessions, request, capabilities=mtn, pending_ttl=PENDING_TTL,
                                       start_lease=starting.START_LEASE)
    loop = asyncio.get_running_loop()
    assert again.order.id == first.order.id and not again.inserted
    assert starting.claimed_at_placement(first, loop.time()) is not None
    assert starting.claimed_at_placement(again, loop.time()) is None  # the first request's start is the one


async def test_a_vote_whose_process_died_holding_its_placements_lease_gets_one_prompt_once_the_lease_runs_out(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    await make_contest(sessions, slug="gala")
    order_id = (await leased_order(sessions, "gala")).order.id  # placed, then its process died before the push
    soon = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=80))
    assert soon.outcomes["start_in_progress"] == 1 and fake_mtn.pay_calls == 0
    async with sessions.begin() as session:  # … and its lease has run out since
        await session.execute(update(VoteOrder).where(VoteOrder.id == order_id)
                              .values(start_lease_until=func.now() - timedelta(seconds=1)))
    late = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=80))
    assert late.outcomes["restarted"] == 1 and fake_mtn.pay_calls == 1
    assert (await tables.get_order(sessions, order_id)).payment_started_at is not None


async def test_a_retry_after_a_quick_failure_calls_the_provider_only_under_a_lease(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, settings: Settings
) -> None:
    """MTN refuses the first prompt at once (the attempt gives its lease back) and is slow to take the second: while
    it is, the order is held by a lease, so the reconciler sends no second prompt."""
    await make_contest(sessions, slug="gala")
    placed = await leased_order(sessions, "gala")
    claimed = starting.claimed_at_placement(placed, asyncio.get_running_loop().time())
    fake_mtn.prompts_down_for, fake_mtn.prompts_held = 1, asyncio.Event()
    credentials = mtn_credentials(settings, sandbox_address(settings, "mtn"))
    assert credentials is not None
    async with httpx.AsyncClient() as http:  # one try per attempt: the first fails well within the lease's freshness
        quick = registry_of(mtn=MtnMomoCollection(http, credentials, settings.public_base_url, retry_delays=()))
        starts = PaymentStarts(lambda order_id, lease: starting.start_payment(sessions, quick, order_id, lease),
                               retry_delays=(0.01,))
        starts.request(placed.order.id, claimed=claimed)
        await until(lambda: fake_mtn.pay_calls == 2)  # the retry's prompt, held by MTN
        report = await reconcile(sessions, quick, now=datetime.now(UTC) + timedelta(seconds=80))
        assert report.outcomes["start_in_progress"] == 1 and fake_mtn.pay_calls == 2
        fake_mtn.prompts_held.set()
        await starts.wait_idle()
    assert (await tables.get_order(sessions, placed.order.id)).payment_started_at is not None


async def test_the_records_of_starts_that_finish_together_share_one_commit_and_each_stands(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """A process's starts' records, when its recording lane is busy, wait and go in one transaction: a commit for
    the lot, each order started once with what MTN answered."""
    await make_contest(sessions, slug="gala")
    placed = [await leased_order(sessions, "gala", msisdn=f"+23767000050{n}") for n in range(4)]
    records = CountBatches(sessions)
    loop = asyncio.get_running_loop()
    async with records.leading():  # the lane busy: the records wait for it
        starts = [asyncio.create_task(starting.start_payment(
            sessions, client.app[PROVIDERS], one.order.id, starting.claimed_at_placement(one, loop.time()),
            records=records)) for one in placed]
        await until(lambda: records.waiting == 4)
    outcomes = await asyncio.gather(*starts)
    assert [outcome.status if outcome else None for outcome in outcomes] == [OrderStatus.PENDING] * 4
    assert fake_mtn.pay_calls == 4
    orders = [await tables.get_order(sessions, one.order.id) for one in placed]
    assert all(order.payment_started_at is not None and order.start_lease_until is None for order in orders)
    async with sessions() as session:
        writers = await session.scalar(text("SELECT count(DISTINCT xmin::text) FROM vote_orders "
                                            "WHERE payment_started_at IS NOT NULL"))
    assert writers == 1 and (records.batches, records.counts) == (1, 4)


async def test_in_a_batch_of_records_a_start_recorded_first_elsewhere_is_told_so_and_the_others_are_recorded(
    sessions: Sessions
) -> None:
    """A start that outlived its lease finds another start's record in place: told so (its outcome is the recorded
    one's), while the records batched with it are each told they stand, never one another's answer."""
    await make_contest(sessions, slug="gala")
    placed = [await leased_order(sessions, "gala", msisdn=f"+23767000060{n}") for n in range(3)]
    window = timedelta(minutes=5)
    first = starting.StartResult(provider_data={"reference": "elsewhere"})
    assert await starting.record_start(sessions, placed[1].order, first, window)  # recorded by another start
    records = CountBatches(sessions)
    late = starting.StartResult(provider_data={"reference": "late"})
    async with records.leading():  # the lane busy: the three records go in one batch
        recording = [asyncio.create_task(starting.record_start(sessions, one.order, late, window, records))
                     for one in placed]
        await until(lambda: records.waiting == 3)
    assert await asyncio.gather(*recording) == [True, False, True]
    assert (await tables.get_order(sessions, placed[1].order.id)).provider_data["reference"] == "elsewhere"
    assert (records.batches, records.counts) == (1, 3)
