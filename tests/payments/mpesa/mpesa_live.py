"""Our app and the M-Pesa sandbox over real localhost HTTP, callbacks travelling between them: a Kenyan contest
(KES) paid by M-Pesa, and the steps a test takes through it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from gateway.kit.keys import SESSIONS, SETTINGS
from payments.mpesa.callback_secret import QUERY_NAME, callback_key, url_secret
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import RULES_OFF, assert_tally_invariant, make_contest, tallies
from tests.live_app import SettlingOrders, app_beside

ORDINARY = "+254712000001"
PRICE = 1000  # KES 10.00 a vote, in cents


@dataclass
class LiveMpesa(SettlingOrders):
    client: TestClient
    control: SandboxControl
    sessions: Sessions
    contest: Contest
    sandbox_url: str

    async def vote(self, msisdn: str = ORDINARY, quantity: int = 5, *, wait: bool = True) -> uuid.UUID:
        response = await self.client.post(f"/api/v1/contests/{self.contest.slug}/votes", json={
            "candidate": "01", "quantity": quantity, "provider": "mpesa", "msisdn": msisdn})
        assert response.status == 201, await response.text()
        order_id = uuid.UUID((await response.json())["order"]["id"])
        if wait:
            await self.client.app[STARTS].wait_idle()  # the prompt goes out after the reply
        return order_id

    async def paid_out(self) -> dict[str, Any]:
        """What the sandbox carried out: B2C payments and reversed receipts."""
        async with httpx.AsyncClient() as http:
            return dict((await http.get(f"{self.sandbox_url}/mpesa/sandbox/paid-out")).json())

    async def votes(self) -> int:
        await assert_tally_invariant(self.sessions, self.contest.id)
        return (await tallies(self.sessions, self.contest.id))["01"]

    def callback_path(self, order_id: uuid.UUID, secret: str | None = None) -> str:
        """The order's CallBackURL as we gave it to Daraja (its own secret unless `secret` is given)."""
        key = callback_key(self.client.app[SETTINGS].secret_key.get_secret_value())
        return f"/payments/mpesa/callback/{order_id}?{QUERY_NAME}={secret or url_secret(key, order_id)}"


@asynccontextmanager
async def live_mpesa(settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    control = SandboxControl(success_delay=0.05, long_delay=0.3)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        async with app_beside(sandbox, settings) as client:
            contest = await make_contest(sessions, currency="KES", price_per_vote=PRICE, providers=["mpesa"],
                                         fraud_rules=RULES_OFF)
            yield LiveMpesa(client, control, client.app[SESSIONS], contest,
                            client.app[SETTINGS].sandbox_url)
            await client.app[STARTS].close(grace=0)
