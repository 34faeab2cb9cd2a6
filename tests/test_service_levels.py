"""The service-level figures on `/metrics` an operator's alerts read: votes by channel, provider and status, the
callback → tally and tally → board latencies, the providers' refusals and time-outs, open contests, the outbox not
yet relayed, and the refunds and payouts owed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, insert, select, update

from assembly.resources.provider_calls import provider_of, provider_prefixes
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import job_context
from assembly.worker.worker_jobs import reconcile_pass
from gateway.core.money_in.start_queue import CONCURRENT_STARTS
from gateway.core.orders import counting, tables
from gateway.db.engine import Sessions
from gateway.db.models import ContestStatus, OrderStatus, OutboxMessage, Refund, VoteOrder
from gateway.kit.keys import CHECKS, HTTP, RELAY
from tests.factories import make_contest, place
from tests.fakes.mtn import FakeMtn, callback, paid_body, vote
from tests.servers import free_port
from tests.waiting import until


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in a scrape (None: absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(key) == value for key, value in labels.items()):
                return float(found.value)
    return None


async def scrape(client: TestClient) -> str:
    return await (await client.get("/metrics")).text()


async def test_metrics_show_orders_and_votes_by_channel_provider_and_status_and_the_open_contests(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    await make_contest(sessions, slug="later", status=ContestStatus.DRAFT)
    paid = await place(sessions, contest, quantity=3, channel="ussd")
    await place(sessions, contest, quantity=2, channel="ussd")
    await place(sessions, contest, provider="orange", msisdn="+237690000001")
    await counting.confirm_payment(sessions, paid.id, "SUCCESSFUL", 300, "XAF", "t", provider="mtn")
    text = await scrape(client)
    assert sample(text, "gateway_vote_orders", channel="ussd", provider="mtn", status="paid") == 1
    assert sample(text, "gateway_votes", channel="ussd", provider="mtn", status="paid") == 3
    assert sample(text, "gateway_votes", channel="ussd", provider="mtn", status="pending") == 2
    assert sample(text, "gateway_vote_orders", channel="web", provider="orange", status="pending") == 1
    assert sample(text, "gateway_vote_orders", channel="web", provider="mtn", status="paid") is None
    assert sample(text, "gateway_orders", status="paid") == 1  # the totals by status are still there
    assert sample(text, "gateway_contests", status="open") == 1
    assert sample(text, "gateway_contests", status="draft") == 1
    assert sample(text, "gateway_contests", status="closed") == 0


async def test_on_air_counts_the_open_contests_inside_their_voting_window_only(
        client: TestClient, sessions: Sessions) -> None:
    """An open contest before its opening time or past its close takes no vote: the alerts must not expect any."""
    now = datetime.now(UTC)
    await make_contest(sessions, slug="tonight")
    await make_contest(sessions, slug="opened-early", opens_at=now + timedelta(hours=2),
                       closes_at=now + timedelta(hours=5))
    await make_contest(sessions, slug="left-open", opens_at=now - timedelta(hours=5),
                       closes_at=now - timedelta(minutes=1))
    await make_contest(sessions, slug="paused", status=ContestStatus.PAUSED)
    text = await scrape(client)
    assert sample(text, "gateway_contests", status="open") == 3
    assert sample(text, "gateway_contests_on_air") == 1


async def board_rows_waiting(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic == "vote.confirmed", OutboxMessage.delivered_at.is_(None))) or 0)


async def test_a_vote_the_worker_counts_reaches_the_board_well_within_its_second(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """The reconciler counts in the worker, which wakes no web process's relay: the relay's own tick carries that
    vote's frame, and must leave room under the board's 1 s. (Ticking every second, it carried such a frame up to a
    second late, one in ten over the SLO: the board's burn-rate alert paged whenever a provider's callbacks were
    lost, before the alert about the callbacks.)"""
    contest = await make_contest(sessions, slug="gala")
    called_back, found = await vote(client, "gala"), await vote(client, "gala", msisdn="+237670000002")
    assert await callback(client, called_back, paid_body(await tables.get_order(sessions, called_back))) == 200
    for _ in range(500):  # the relay woken by the callback has just run: its next tick is a whole interval away
        if not await board_rows_waiting(sessions):
            break
        await asyncio.sleep(0.005)
    order = await tables.get_order(sessions, found)
    await counting.confirm_payment(sessions, found, "SUCCESSFUL", order.amount, order.currency, "t", provider="mtn")
    for _ in range(300):
        if not await board_rows_waiting(sessions):
            break
        await asyncio.sleep(0.005)
    async with sessions() as session:
        waited = await session.scalar(select(func.max(OutboxMessage.delivered_at - OutboxMessage.created_at)).where(
            OutboxMessage.topic == "vote.confirmed", OutboxMessage.payload["contest_id"].as_integer() == contest.id))
    assert waited is not None and waited < timedelta(seconds=0.8)  # a 1 s tick would be 0.9 s or more


async def test_an_mtn_callback_times_its_way_to_the_tally_and_on_to_the_board(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    order = await tables.get_order(sessions, order_id)
    assert await callback(client, order_id, paid_body(order)) == 200
    text = await scrape(client)
    assert sample(text, "gateway_callback_to_tally_seconds_count", provider="mtn") == 1
    assert sample(text, "gateway_callback_to_tally_seconds_bucket", provider="mtn", le="2.0") == 1  # within the SLO
    # The relay publishes the board after the commit, on its own task.
    for _ in range(500):
        text = await scrape(client)
        if sample(text, "gateway_count_to_board_seconds_count"):
            break
        await asyncio.sleep(0.01)
    assert sample(text, "gateway_count_to_board_seconds_count") == 1
    assert sample(text, "gateway_count_to_board_seconds_bucket", le="1.0") == sample(
        text, "gateway_count_to_board_seconds_count")


async def test_a_provider_answering_429_is_counted_as_throttling(settings: Settings, sessions: Sessions) -> None:
    """MTN refusing every request with 429 (its cap): the figure an operator's alert reads climbs."""
    calls: list[str] = []

    async def throttled(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.json_response({"message": "Too many requests"}, status=429)

    mtn = web.Application()
    mtn.router.add_route("*", "/{tail:.*}", throttled)
    port = free_port()
    async with TestServer(mtn, port=port):
        app = create_app(settings.model_copy(update={"sandbox_url": f"http://127.0.0.1:{port}"}))
        async with TestClient(TestServer(app)) as client:
            await make_contest(sessions, slug="gala")
            response = await client.post("/api/v1/contests/gala/votes", json={
                "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "+237670000009"})
            assert response.status == 201
            await until(lambda: bool(calls))
            text = await scrape(client)
            await app[STARTS].close(grace=0)
    assert (sample(text, "gateway_provider_calls_total", provider="mtn", outcome="throttled") or 0) >= 1
    assert sample(text, "gateway_provider_calls_total", provider="mtn", outcome="ok") is None


async def test_orange_answering_403_code_53_is_counted_as_throttling_and_its_other_403s_as_refused(
        settings: Settings, sessions: Sessions) -> None:
    """Orange's gateway over an application's rate answers 403 with code 53 (not 429): the same figure an operator's
    alert reads climbs, while a 403 of another code (bad credentials: ours to fix) stays a refusal."""
    calls: list[str] = []

    async def over_the_rate(request: web.Request) -> web.Response:
        calls.append(request.path)
        if request.path.endswith("/token"):  # the token request: over the rate
            return web.json_response({"code": 53, "message": "Too many requests", "description": "spike arrest"},
                                     status=403)
        return web.json_response({"code": 60, "message": "Resource access denied"}, status=403)

    orange = web.Application()
    orange.router.add_route("*", "/{tail:.*}", over_the_rate)
    port = free_port()
    async with TestServer(orange, port=port):
        app = create_app(settings.model_copy(update={"sandbox_url": f"http://127.0.0.1:{port}"}))
        async with TestClient(TestServer(app)) as client:
            await make_contest(sessions, slug="gala")
            response = await client.post("/api/v1/contests/gala/votes", json={
                "candidate": "01", "quantity": 1, "provider": "orange", "msisdn": "+237690000009"})
            assert response.status in (201, 503)  # Orange's page could not be had yet: the vote waits, pending
            await until(lambda: bool(calls))
            # Another of Orange's 403s, through the same counted client.
            await app[HTTP].post(f"http://127.0.0.1:{port}/orange/orange-money-webpay/dev/v1/webpayment")
            text = await scrape(client)
            await app[STARTS].close(grace=0)
    assert (sample(text, "gateway_provider_calls_total", provider="orange", outcome="throttled") or 0) >= 1
    assert sample(text, "gateway_provider_calls_total", provider="orange", outcome="refused") == 1
    async with sessions() as session:
        [order] = (await session.scalars(select(VoteOrder))).all()
    assert order.status is OrderStatus.PENDING  # slowed down, never refused


async def test_the_workers_requests_to_a_provider_are_counted_too(
        settings: Settings, sessions: Sessions, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reconciler's calls (and the refunds', the payouts') leave from the worker: where the host's processes
    share their figures (tests/test_shared_metrics.py), a 429 there is one an operator's alert counts."""
    async def throttled(request: web.Request) -> web.Response:
        return web.json_response({"message": "Too many requests"}, status=429)

    mtn = web.Application()
    mtn.router.add_route("*", "/{tail:.*}", throttled)
    port = free_port()
    for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url),
                        ("SANDBOX_URL", f"http://127.0.0.1:{port}")):
        monkeypatch.setenv(name, value or "")
    contest = await make_contest(sessions, slug="gala")
    await place(sessions, contest)  # its prompt never sent: the reconciler sends it
    async with sessions.begin() as session:  # the reconciler looks at an order 30 s after it was placed
        await session.execute(update(VoteOrder).values(created_at=datetime.now(UTC) - timedelta(seconds=31)))
    async with TestServer(mtn, port=port), job_context() as ctx:
        await reconcile_pass(ctx)
    calls = {(s.labels["provider"], s.labels["outcome"]): s.value
             for metric in ctx.levels.provider_calls.collect() for s in metric.samples if s.name.endswith("_total")}
    assert calls.get(("mtn", "throttled"), 0) >= 1


def test_requests_are_told_apart_by_their_provider_address(settings: Settings) -> None:
    prefixes = provider_prefixes(settings.model_copy(update={
        "sandbox_url": "http://127.0.0.1:9/", "mtn_momo_base_url": "https://proxy.momodeveloper.mtn.com"}))
    assert provider_of(prefixes, "https://proxy.momodeveloper.mtn.com/collection/v1_0/requesttopay") == "mtn"
    assert provider_of(prefixes, "http://127.0.0.1:9/orange/oauth/v3/token") == "orange"
    assert provider_of(prefixes, "https://api.stripe.com/v1/checkout/sessions") == "stripe"
    assert provider_of(prefixes, "https://proxy.momodeveloper.mtn.com.evil.example/x") is None
    assert provider_of(prefixes, "https://media.example.org/upload") is None


async def test_metrics_show_the_outbox_waiting_and_the_money_owed_back(
        client: TestClient, settings: Settings, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest)
    await client.app[RELAY].stop()  # no web process relaying: rows wait
    async with sessions.begin() as session:
        await session.execute(insert(OutboxMessage).values(topic="nobody.listens", payload={},
                                                           created_at=func.now() - timedelta(seconds=40)))
        await session.execute(insert(Refund).values(
            id=uuid.uuid4(), order_id=order.id, provider="mtn", amount=100, currency="XAF", reason="rejected hold",
            requested_by="owner@example.org"))
    text = await scrape(client)
    assert sample(text, "gateway_outbox_backlog") == 1
    assert 40 <= (sample(text, "gateway_outbox_oldest_age_seconds") or 0) < 70
    assert sample(text, "gateway_money_out", kind="refund", state="requested") == 1
    assert sample(text, "gateway_money_out", kind="refund", state="failed") == 0
    assert sample(text, "gateway_money_out", kind="payout", state="sent") == 0
    assert sample(text, "gateway_money_out_amount", kind="refund", state="requested", currency="XAF") == 100
    async with sessions.begin() as session:
        await session.execute(update(Refund).values(state="failed"))
    async with TestClient(TestServer(create_app(settings))) as other:  # a fresh process: nothing cached
        text = await scrape(other)
    assert sample(text, "gateway_money_out", kind="refund", state="failed") == 1
    assert sample(text, "gateway_money_out", kind="refund", state="requested") == 0


async def test_prompts_queued_behind_a_slow_provider_show_their_wait(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """One prompt more than the process pushes at once, MTN slow to answer: that one waits for a slot."""
    await make_contest(sessions, slug="gala")
    fake_mtn.prompts_held = asyncio.Event()
    for n in range(CONCURRENT_STARTS + 1):
        response = await client.post("/api/v1/contests/gala/votes", json={
            "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": f"+2376700001{n:02d}"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"})
        assert response.status == 201
    await asyncio.sleep(0.5)
    fake_mtn.prompts_held.set()
    await client.app[STARTS].wait_idle()
    text = await scrape(client)
    assert sample(text, "gateway_start_wait_seconds_count") == CONCURRENT_STARTS + 1
    assert sample(text, "gateway_start_wait_seconds_bucket", le="0.25") == CONCURRENT_STARTS  # the rest at once
    assert (sample(text, "gateway_start_wait_seconds_sum") or 0) >= 0.4


async def test_a_status_check_shows_the_cap_it_runs_under(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """A callback that cannot count alone costs a status call, paced under MTN's cap (90% of it, for every status
    call together)."""
    await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    order = await tables.get_order(sessions, order_id)
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    body = paid_body(order)
    del body["amount"]
    assert await callback(client, order_id, body) == 200
    await client.app[CHECKS].wait_idle()
    text = await scrape(client)
    assert sample(text, "gateway_status_turn_wait_seconds_count", provider="mtn", role="checks") == 1
    assert sample(text, "gateway_status_cap_per_second", provider="mtn", role="checks") == 9.0
