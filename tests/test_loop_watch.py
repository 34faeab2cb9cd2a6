"""A web process whose event loop is held up says so: how late it ran, and the code that held it."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.config import Settings


def hold_the_loop_synchronously(seconds: float) -> None:
    time.sleep(seconds)  # what a blocking call in a handler does to every other request of the process


async def blocking(request: web.Request) -> web.Response:
    hold_the_loop_synchronously(0.6)
    return web.Response(text="done")


@pytest.fixture
async def stalling(clean: None, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(settings.model_copy(update={"metrics_allow": "127.0.0.1"}))
    app.router.add_get("/test-only/block", blocking)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_a_stuck_loop_is_logged_with_the_code_that_held_it(stalling: TestClient,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.loop_watch"):
        assert (await stalling.get("/test-only/block")).status == 200
    [stall] = [r for r in caplog.records if "event loop stuck" in r.getMessage()]
    assert "hold_the_loop_synchronously" in stall.getMessage()


async def test_the_loop_lag_reaches_the_metrics(stalling: TestClient) -> None:
    assert (await stalling.get("/test-only/block")).status == 200
    metrics = await (await stalling.get("/metrics")).text()
    late = [line for line in metrics.splitlines()
            if line.startswith('gateway_event_loop_lag_seconds_bucket{le="0.25"}')]
    total = [line for line in metrics.splitlines() if line.startswith("gateway_event_loop_lag_seconds_count")]
    assert late and total and float(total[0].split()[-1]) > float(late[0].split()[-1])  # one tick over 250 ms

