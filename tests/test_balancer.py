"""The production balancer (deploy/haproxy.cfg) run for real: Debian's HAProxy, the same version as the compose
file's image, with the file's own rules in front of a web process of the service and a stand-in fan-out server.
Only its addresses are this machine's (the compose file names its servers through Docker's DNS)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.db.engine import Sessions
from tests.factories import make_contest
from tests.haproxy_config import local_config
from tests.servers import CLOSED, free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"  # `make balancer` installs it


async def fanout_stand_in(request: web.Request) -> web.Response:
    return web.Response(text="fan-out server", headers={"X-Served-By": "fanout"})


@pytest.fixture
async def fanout_port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fanout_stand_in)
    async with TestServer(app, host="127.0.0.1") as server:
        assert server.port is not None
        yield server.port


@pytest.fixture
def balancer(client: TestClient, fanout_port: int, tmp_path: Path) -> Iterator[int]:
    port, web_port = free_port(), client.server.port
    assert web_port is not None
    config = tmp_path / "haproxy.cfg"
    config.write_text(local_config(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}", {
        "fanout:8095": [f"127.0.0.1:{fanout_port}"], "fanout:8096": [f"127.0.0.1:{CLOSED.port}"],
        "web:8080": [f"127.0.0.1:{web_port}"]}))
    with (tmp_path / "haproxy.log").open("wb") as log:
        process = subprocess.Popen([HAPROXY, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(200):  # until it listens
                if process.poll() is not None:
                    raise AssertionError(f"haproxy exited: {(tmp_path / 'haproxy.log').read_text()}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


async def served_by(port: int, path: str) -> tuple[str, str]:
    """(who answered, its Content-Type) for a request with exactly this path, as a client may send it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: vote.example.org\r\nConnection: close\r\n\r\n".encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode("latin-1").lower()
    writer.close()
    status = head.split("\r\n", 1)[0]
    kind = re.search(r"\r\ncontent-type: *([^\r;]*)", head)
    return ("fanout" if "\r\nx-served-by: fanout" in head else f"web ({status})"), kind.group(1) if kind else ""


@pytest.mark.parametrize("path", [
    "/api/v1/contests/gala/leaderboard/stream",
    "/api/v1/contests/gala/leaderboard/%73tream",
    "/api/v1/contests/gala/leaderboard/str%65am",
    "/api/v1/contests/g%61la/leaderboard/stream",
    "/api/v1/contests/%67%61%6C%61/leaderboard/stream",
    "/api/v1/contests/gala/leaderboard/stream?lang=fr",
    "http://vote.example.org/api/v1/contests/gala/leaderboard/%73tream",
])
async def test_every_spelling_of_a_board_stream_goes_to_the_fanout_server(
        balancer: int, sessions: Sessions, path: str) -> None:
    """A web process reads the path percent-decoded (and would serve the stream), so the balancer routes on the
    decoded path too: no spelling of a stream's path reaches a web process."""
    await make_contest(sessions, slug="gala")
    assert (await served_by(balancer, path))[0] == "fanout"


async def test_other_paths_go_to_the_web_processes_and_no_stream_is_served_there(
        balancer: int, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    assert await served_by(balancer, "/api/v1/contests/gala/leaderboard") == ("web (http/1.1 200 ok)",
                                                                               "application/json")
    for path in ("/api/v1/contests/gala/leaderboard//stream", "/api/v1/contests/gala/./leaderboard/stream",
                 "/api/v1/contests/gala/leaderboard/stream/", "/api/v1/contests/gala%2Fx/leaderboard/stream",
                 "/api/v1/contests/gala/leaderboard/%2573tream", "/api/v1/contests/GALA/leaderboard/stream",
                 "/api/v1/contests/gala/leaderboard/stream%00", "/api/v1/contests/gala/leaderboard/stream#x"):
        who, kind = await served_by(balancer, path)
        assert kind != "text/event-stream", f"{path} was streamed by {who}"
