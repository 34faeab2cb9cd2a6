"""Callback verification end to end over localhost HTTP: our app and the MTN sandbox at MTN's status-call cap. A vote
counts from MTN's callback alone, is verified by a status GET afterwards, and a payer number whose status
then says FAILED (the sandbox's …457) has its votes taken back off and its order set aside for a person."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from gateway.core.money_in.verification.by_status import DISAGREED
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, PaymentVerification
from gateway.kit.keys import SESSIONS
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.servers import free_port


@dataclass
class Live:
    client: TestClient
    control: SandboxControl
    sessions: Sessions
    contest: Contest

    async def vote(self, msisdn: str, quantity: int = 5) -> uuid.UUID:
        response = await self.client.post(f"/api/v1/contests/{self.contest.slug}/votes", json={
            "candidate": "01", "quantity": quantity, "provider": "mtn", "msisdn": msisdn})
        assert response.status == 201, await response.text()
        await self.client.app[STARTS].wait_idle()
        return uuid.UUID((await response.json())["order"]["id"])

    async def until(self, order_id: uuid.UUID, status: OrderStatus, timeout: float = 5.0) -> None:
        for _ in range(int(timeout / 0.02)):
            if (await tables.get_order(self.sessions, order_id)).status is status:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{order_id} never became {status}")


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Live]:
    control = SandboxControl(success_delay=0.05, long_delay=0.3, status_calls_per_second=10)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        port = free_port()
        app_settings = settings.model_copy(update={
            "public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/")})
        async with TestClient(TestServer(create_app(app_settings), port=port)) as client:
            contest = await make_contest(sessions, slug="gala")
            yield Live(client, control, client.app[SESSIONS], contest)


async def verifications_due_now(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await session.execute(update(PaymentVerification).values(due_at=func.now()))


async def test_a_callback_counted_vote_whose_status_disagrees_is_taken_back_off(live: Live) -> None:
    kept = await live.vote("+237670000001", quantity=2)
    reversed_ = await live.vote("+237670000457", quantity=5)
    await live.until(kept, OrderStatus.PAID)
    await live.until(reversed_, OrderStatus.PAID)  # MTN's callback said SUCCESSFUL: counted at once
    assert (await tallies(live.sessions, live.contest.id))["01"] == 7
    await verifications_due_now(live.sessions)
    await live.until(reversed_, OrderStatus.FLAGGED)
    order = await tables.get_order(live.sessions, reversed_)
    assert (order.status_reason or "").startswith(DISAGREED)
    assert (await tables.get_order(live.sessions, kept)).status is OrderStatus.PAID
    assert (await tallies(live.sessions, live.contest.id))["01"] == 2
    await assert_tally_invariant(live.sessions, live.contest.id)
    for _ in range(250):
        async with live.sessions() as session:
            done = list(await session.scalars(select(PaymentVerification.outcome)))
        if all(done):
            break
        await asyncio.sleep(0.02)
    assert sorted(outcome.split(":")[0] for outcome in done) == ["agreed", "disagreed"]


async def test_an_orange_webpay_notification_with_its_token_counts_at_once_and_is_verified_after(
        live: Live) -> None:
    response = await live.client.post(f"/api/v1/contests/{live.contest.slug}/votes", json={
        "candidate": "01", "quantity": 2, "provider": "orange", "msisdn": "+237690000001"})
    body = await response.json()
    order_id = uuid.UUID(body["order"]["id"])
    async with httpx.AsyncClient() as payer:
        await payer.post(body["next"]["url"], data={"decision": "pay"})
    await live.until(order_id, OrderStatus.PAID)
    async with live.sessions() as session:  # counted from the notification: queued for its status call
        waiting = (await session.scalars(select(PaymentVerification))).one()
    assert waiting.order_id == order_id and waiting.verified_at is None
    await verifications_due_now(live.sessions)
    for _ in range(250):
        async with live.sessions() as session:
            outcome = await session.scalar(select(PaymentVerification.outcome))
        if outcome:
            break
        await asyncio.sleep(0.02)
    assert outcome == "agreed"
    assert (await tallies(live.sessions, live.contest.id))["01"] == 2
    await assert_tally_invariant(live.sessions, live.contest.id)
