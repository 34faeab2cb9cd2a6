"""/metrics while Redis is frozen (SIGSTOP: it takes connections and never answers): Prometheus still gets its figures
in time, and among them that Redis did not answer, which pages `RedisDown` within its promised 30 s."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.app import LentEngines, create_app
from assembly.web.health import METRICS_REDIS_SECONDS
from tests.servers import free_port
from tests.waiting import HANG_SECONDS

# Prometheus gives a scrape 10 s by default; the answer must come well inside it, Redis's limit and PostgreSQL's
# figures together.
SCRAPE_SECONDS = 10.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of this test's own, on a free port: the suite's shared Redis is never frozen."""
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + HANG_SECONDS
        while not answers(url):
            assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield process, url
    finally:
        os.kill(process.pid, signal.SIGCONT)  # a stopped process does not act on SIGTERM until continued
        process.terminate()
        process.wait(timeout=30)


def answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def redis_up(exposition: str) -> float:
    lines = [line for line in exposition.splitlines() if line.startswith("gateway_redis_up ")]
    assert len(lines) == 1, exposition
    return float(lines[0].split()[1])


async def test_metrics_answer_in_time_and_say_redis_is_not_answering_while_it_is_frozen(
        settings: Settings, lent_engines: LentEngines, own_redis: tuple[subprocess.Popen[bytes], str]) -> None:
    process, url = own_redis
    app = create_app(settings.model_copy(update={"redis_url": url}), lent=lent_engines)
    async with TestClient(TestServer(app)) as client:
        assert redis_up(await (await client.get("/metrics")).text()) == 1

        os.kill(process.pid, signal.SIGSTOP)
        started = time.monotonic()
        response = await client.get("/metrics")
        answered_in = time.monotonic() - started
        assert response.status == 200
        exposition = await response.text()
        assert redis_up(exposition) == 0
        assert "gateway_vote_orders" in exposition  # PostgreSQL's figures are still served
        assert answered_in < SCRAPE_SECONDS
        assert METRICS_REDIS_SECONDS < SCRAPE_SECONDS / 2

        # Thawed: the next scrape reaches it again (the connections cut at the time limit were dropped, not reused).
        os.kill(process.pid, signal.SIGCONT)
        assert redis_up(await (await client.get("/metrics")).text()) == 1
