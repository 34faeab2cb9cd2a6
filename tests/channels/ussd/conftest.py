"""Fixtures of the USSD route tests (test_routes_*): the MTN and Orange sandboxes on localhost, nobody approving
their prompts, and the demo contest without its per-number limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import update

from assembly.machine.demo import seed_demo
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from payments.sandbox.control import SandboxControl
from payments.sandbox.mtn import MTN, create_mtn_sandbox
from payments.sandbox.orange import create_orange_sandbox
from payments.sandbox.orange.state import ORANGE
from tests.channels.ussd.sessions import Phones


@pytest.fixture
async def phones() -> AsyncIterator[tuple[Phones, str]]:
    control = SandboxControl(success_delay=3600)  # nobody approves during these tests
    mtn, orange = create_mtn_sandbox(control), create_orange_sandbox(control)
    sandbox = web.Application()
    sandbox.add_subapp("/mtn", mtn)
    sandbox.add_subapp("/orange", orange)
    async with TestServer(sandbox) as server:
        yield Phones(mtn[MTN], orange[ORANGE]), str(server.make_url("")).rstrip("/")


@pytest.fixture
async def demo(sessions: Sessions) -> Contest:
    contest = await seed_demo(sessions)
    async with sessions.begin() as session:  # the seeded per-number limits are tested on their own
        await session.execute(update(Contest).values(max_orders_per_minute=0, max_orders_per_day=0))
    return contest
