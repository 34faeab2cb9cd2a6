"""A Kenyan contest (KES) paid by M-Pesa and Airtel Money, for the phone channels' end-to-end tests: our app and the
providers' sandbox over real localhost HTTP, the sandbox calling back on the app's own URL, and a worker's job
context (`job`) built from the same settings, as the SMS job and the receipts job run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlalchemy import select

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext, build_receipt_senders
from assembly.worker.worker_jobs import outbox_handlers
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, OutboxMessage, VoteOrder
from gateway.jobs import outbox
from gateway.kit.keys import CHECKS
from gateway.kit.outbound_tls import verified_tls
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import RULES_OFF, assert_tally_invariant, make_contest, tallies
from tests.servers import free_port

SAFARICOM = "+254712000001"  # M-Pesa's network in Kenya (payments/mpesa/provider.py: PHONE_WALLET)
AIRTEL_KENYA = "+254733000001"  # Airtel Kenya's; neither ending is one of the sandboxes' failing ones
PRICE = 1000  # KES 10.00 a vote, in cents


async def kenyan_contest(sessions: Sessions, **overrides: Any) -> Contest:
    """An open contest in Kenya (KES) taking M-Pesa and Airtel Money, without fraud rules or per-number limits."""
    return await make_contest(sessions, **{"currency": "KES", "price_per_vote": PRICE, "providers": ["mpesa", "airtel"],
                                           "country": "KE", "time_zone": "Africa/Nairobi", "fraud_rules": RULES_OFF,
                                           **overrides})


@dataclass
class EastAfrica:
    """The running app, the sandbox's knobs, and the settings both the app and `job` use."""

    client: TestClient[web.Request, web.Application]
    control: SandboxControl
    sessions: Sessions
    redis: Redis
    settings: Settings

    @asynccontextmanager
    async def job(self) -> AsyncIterator[JobContext]:
        """A worker's job context: its providers push prompts to the same sandbox, with callbacks to the app."""
        async with httpx.AsyncClient(verify=verified_tls()) as http:
            registry = build_providers(self.settings, http)
            yield JobContext(self.settings, self.sessions, self.redis, registry,
                             build_receipt_senders(self.settings, self.sessions, http))
            await registry.aclose()

    async def settled(self, order_id: uuid.UUID, timeout: float = 5.0) -> VoteOrder:
        """The order once the sandbox's callback has decided it (or still pending after `timeout`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        await self.client.app[STARTS].wait_idle()
        while True:
            await self.client.app[CHECKS].wait_idle()
            order = await tables.get_order(self.sessions, order_id)
            if order.status is not OrderStatus.PENDING or asyncio.get_running_loop().time() > deadline:
                return order
            await asyncio.sleep(0.02)

    async def deliver_outbox(self) -> None:
        """The receipts job: every outbox row handled as the worker handles it (a row handled twice sends once)."""
        async with self.sessions() as session:
            ids = (await session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))).all()
        async with self.job() as ctx:
            for outbox_id in ids:
                await outbox.deliver(self.sessions, outbox_id, outbox_handlers(ctx))

    async def orders(self) -> list[VoteOrder]:
        async with self.sessions() as session:
            return list(await session.scalars(select(VoteOrder).order_by(VoteOrder.created_at)))

    async def votes(self, contest: Contest, code: str = "01") -> int:
        await assert_tally_invariant(self.sessions, contest.id)
        return (await tallies(self.sessions, contest.id))[code]


@asynccontextmanager
async def east_africa(settings: Settings, sessions: Sessions, redis: Redis,
                      **changes: object) -> AsyncIterator[EastAfrica]:
    """The app (its settings with `changes`) paying through the sandbox, which approves every prompt in 0.05 s."""
    control = SandboxControl(success_delay=0.05, long_delay=0.3)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        port = free_port()
        app_settings = settings.model_copy(update={
            "public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/"),
            **changes})
        async with TestClient(TestServer(create_app(app_settings), port=port)) as client:
            # The application's callback URL, as set in Airtel's portal (M-Pesa's goes with each prompt).
            async with client.session.post(sandbox.make_url("/airtel/_app"), json={
                    "callback_url": f"http://127.0.0.1:{port}/payments/airtel/callback"}) as answer:
                assert answer.status == 200
            yield EastAfrica(client, control, sessions, redis, app_settings)
            await client.app[STARTS].close(grace=0)
