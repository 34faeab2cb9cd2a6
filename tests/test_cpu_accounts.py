"""Each part's CPU (assembly/cpu/accounts.py), as /metrics serves it: a web process's requests and the tasks they set
off, step by step, so a request that computes is charged and one waiting beside it is not; a worker's jobs, each to
its pass's part."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from assembly.cpu.accounts import CpuAccounts
from assembly.cpu.parts import part_of_module
from assembly.settings import Settings
from assembly.web.middleware import cpu_by_part
from gateway.core.worker_passes import PASS_JOB
from gateway.jobs.queues import job_queue, sync_redis
from tests.waiting import HANG_SECONDS

STEPS = 20
STEP_SECONDS = 0.015  # of CPU, each of the busy handler's steps


def burn(seconds: float) -> None:
    """Spend `seconds` of this thread's CPU (an RQ job of this module too)."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def handler_of(module: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
               ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler as if written in `module` (a channel's routes): its part is named by where its code lives."""
    handler.__module__ = module
    return handler


def cpu_of(registry: CollectorRegistry, part: str, process: str = "web") -> float:
    return registry.get_sample_value("gateway_cpu_seconds_total", {"part": part, "process": process}) or 0.0


async def test_a_request_that_computes_is_charged_to_its_channel_and_one_waiting_beside_it_is_not() -> None:
    """The USSD request computes in steps while the SMS one waits the whole time: measured from its start to its end,
    the SMS request would be charged all the USSD one's CPU."""
    registry = CollectorRegistry()
    accounts = CpuAccounts(registry, "web")
    started, done = asyncio.Event(), asyncio.Event()

    async def busy(request: web.Request) -> web.Response:
        started.set()
        for _ in range(STEPS):
            burn(STEP_SECONDS)
            await asyncio.sleep(0)  # the idle request's turn
        done.set()
        return web.Response(text="busy")

    async def idle(request: web.Request) -> web.Response:
        await started.wait()
        await done.wait()
        return web.Response(text="idle")

    app = web.Application(middlewares=[cpu_by_part(accounts)])
    app.router.add_post("/ussd", handler_of("channels.ussd.routes", busy))
    app.router.add_post("/sms", handler_of("channels.sms.routes", idle))
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        async def post(path: str) -> str:
            async with http.post(server.make_url(path)) as response:
                return await response.text()

        assert await asyncio.gather(post("/sms"), post("/ussd"), post("/nowhere")) == ["idle", "busy", "404: Not Found"]
    accounts.flush()
    assert cpu_of(registry, "ussd") >= STEPS * STEP_SECONDS
    assert cpu_of(registry, "sms") < STEP_SECONDS  # its two or three steps' own
    assert cpu_of(registry, "other") < STEP_SECONDS  # the 404: no route's part


def test_tasks_a_request_sets_off_are_its_part() -> None:
    """A web process's loop makes every task through the accounts' task factory: a task a USSD request creates (as a
    vote's payment prompt) is USSD's, though it runs after the answer; one created outside any part is no part's.
    Its own loop: the factory stays with it."""
    registry = CollectorRegistry()
    accounts = CpuAccounts(registry, "web")
    background: list[asyncio.Task[None]] = []

    async def later() -> None:
        await asyncio.sleep(0)
        burn(0.2)

    async def vote(request: web.Request) -> web.Response:
        background.append(asyncio.create_task(later()))
        return web.Response(text="ok")

    async def main() -> None:
        asyncio.get_running_loop().set_task_factory(accounts.task_factory)
        app = web.Application(middlewares=[cpu_by_part(accounts)])
        app.router.add_post("/ussd", handler_of("channels.ussd.routes", vote))
        async with TestServer(app) as server, aiohttp.ClientSession() as http:
            async with http.post(server.make_url("/ussd")) as response:
                assert await response.text() == "ok"
        await asyncio.gather(*background)
        await asyncio.create_task(later())  # outside any request, from a module no part owns

    with asyncio.Runner() as runner:
        runner.run(main())
    accounts.flush()
    assert 0.2 <= cpu_of(registry, "ussd") < 0.4
    assert {sample.labels["part"] for metric in registry.collect() for sample in metric.samples
            if sample.name == "gateway_cpu_seconds_total"} == {"ussd"}


def test_code_is_accounted_to_the_part_its_module_names() -> None:
    assert [part_of_module(module) for module in (
        "channels.web.api", "channels.ussd.routes", "channels.sms.channel", "payments.mtn.routes",
        "gateway.jobs.relay", "gateway.core.money_in.verification.loop", "leaderboard.routes", "assembly.web.health",
        "aiohttp.web_protocol", "assembly.web.loop_watch")] == [
        "web", "ussd", "sms", "payments", "relay", "verification", "board", "health", None, None]


def test_a_worker_accounts_each_job_to_its_pass_part(settings: Settings, redis: object, tmp_path: Path) -> None:
    """Two jobs in one worker: one computing for a second (a function, no pass: `other`), then the relay's pass. Each
    one's CPU is its own, as the web processes serve it from the host's shared figures."""
    queue = job_queue(sync_redis(settings.redis_url or ""))
    queue.enqueue(burn, 1.0)
    queue.enqueue(PASS_JOB, "relay-outbox")
    env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "LOG_JSON": "false"}
    result = subprocess.run([sys.executable, "-m", "assembly.cli", "worker", "--burst", "--no-cron"], env=env,
                            capture_output=True, text=True, timeout=HANG_SECONDS)
    assert result.returncode == 0, result.stderr
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(tmp_path))  # type: ignore[no-untyped-call]
    burned, relayed = cpu_of(registry, "other", "worker"), cpu_of(registry, "relay", "worker")
    assert 1.0 <= burned < 1.5, (burned, relayed)
    assert 0 < relayed < 1.0, (burned, relayed)
