"""Fixtures of the sandbox tests: a running sandbox with fast outcomes, and a callback receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import test_utils

from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.payments import Receiver


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
