"""Fixtures of the sandbox tests: a running sandbox with fast outcomes, a callback receiver, a client of one
provider's sandbox and an MTN token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import test_utils

from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.payments import Receiver
from tests.payments.mtn_sandbox import get_token


@pytest.fixture
def control() -> SandboxControl:
    return SandboxControl(success_delay=0.05, long_delay=0.4)


@pytest.fixture
async def sandbox(control: SandboxControl) -> AsyncIterator[test_utils.TestServer]:
    async with test_utils.TestServer(create_sandbox_app(control)) as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    async with receiver.server:
        yield receiver


@pytest.fixture
async def http(request: pytest.FixtureRequest, sandbox: test_utils.TestServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of one provider's part of the sandbox: the path its test module names as SANDBOX ("/mtn", …)."""
    async with httpx.AsyncClient(base_url=str(sandbox.make_url(request.module.SANDBOX)), timeout=5) as client:
        yield client


@pytest.fixture
async def token(http: httpx.AsyncClient) -> str:
    """An access token of the MTN sandbox."""
    return await get_token(http)
