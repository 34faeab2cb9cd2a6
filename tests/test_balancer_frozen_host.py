"""Several machines: the balancer (deploy/haproxy.cfg, run for real) takes a frozen host out of the web rotation.
A host whose processes all stopped answering still completes TCP handshakes (the kernel does, into its listening
sockets' queues), so only the health check's time-out tells it from a live one: `/readyz` unanswered within
`timeout check` twice in a row (`fall 2`), and the host is out; its streams are cut (`on-marked-down
shutdown-sessions`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.haproxy_config import local_config
from tests.servers import CLOSED, free_port, new_connection_answered
from tests.test_balancer import HAPROXY

ANSWERED_WITHIN = 20  # seconds from the host's freeze
WINDOW = 100  # new connections, of which 99% must be answered


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@pytest.fixture
async def live_host() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/readyz", ready)
    app.router.add_get("/api/v1/contests", ready)
    async with TestServer(app, host="127.0.0.1") as server:
        assert server.port is not None
        yield server.port


@pytest.fixture
def frozen_host() -> Iterator[int]:
    """A listening socket that nobody ever accepts from: a host whose processes are all stopped, or all stuck."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(128)
        yield listening.getsockname()[1]


@contextlib.contextmanager
def balancer(web_ports: list[int], tmp_path: Path) -> Iterator[int]:
    port = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(local_config(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}", {
        "fanout:8096": [f"127.0.0.1:{CLOSED.port}"], "web:8080": [f"127.0.0.1:{p}" for p in web_ports]}))
    with (tmp_path / "haproxy.log").open("wb") as log:
        process = subprocess.Popen([HAPROXY, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:  # until it listens
                assert process.poll() is None, (tmp_path / "haproxy.log").read_text()
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                assert time.monotonic() < deadline, "haproxy does not listen"
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


def answered(port: int) -> bool:
    return new_connection_answered(port, "/api/v1/contests", "vote.example.org")


async def test_a_frozen_host_is_taken_out_and_the_site_answers_again(live_host: int, frozen_host: int,
                                                                       tmp_path: Path) -> None:
    with balancer([live_host, frozen_host], tmp_path) as port:
        since = time.monotonic()
        window: deque[bool] = deque(maxlen=WINDOW)
        recovered = None
        while recovered is None and time.monotonic() < since + 3 * ANSWERED_WITHIN:
            window.append(await asyncio.to_thread(answered, port))  # the live host answers on this loop
            if len(window) == WINDOW and sum(window) >= 0.99 * WINDOW:
                recovered = time.monotonic() - since
        assert recovered is not None and recovered <= ANSWERED_WITHIN, (recovered, list(window).count(False))
        assert "is DOWN" in (tmp_path / "haproxy.log").read_text()
