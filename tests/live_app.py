"""The app as voters meet it, running beside a provider sandbox over real localhost HTTP: what the live tests share
(the app on a free port pointed at the sandbox, and waiting for an order to settle)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from gateway.kit.keys import CHECKS
from tests.servers import free_port


@asynccontextmanager
async def app_beside(sandbox: TestServer, settings: Settings) -> AsyncIterator[TestClient]:
    """The app on a free port: its providers talk to the sandbox, and the sandbox calls it back at its own address."""
    port = free_port()
    app_settings = settings.model_copy(update={
        "public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/")})
    async with TestClient(TestServer(create_app(app_settings), port=port)) as client:
        yield client


class SettlingOrders:
    """For a live test's dataclass (its `client` and `sessions`): an order's state once the checks let it be."""

    client: TestClient
    sessions: Sessions

    async def settled(self, order_id: uuid.UUID, timeout: float = 15.0) -> VoteOrder:
        """The order once it is no longer pending, or as it is after `timeout` seconds (a cap for a machine whose
        cores are all busy: a settled order returns as soon as it is)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self.client.app[CHECKS].wait_idle()
            order = await tables.get_order(self.sessions, order_id)
            if order.status is not OrderStatus.PENDING or asyncio.get_running_loop().time() > deadline:
                return order
            await asyncio.sleep(0.02)
