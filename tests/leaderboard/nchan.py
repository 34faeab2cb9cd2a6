"""A fan-out server (Debian's nginx with Nchan) for a test, started as `gateway fanout` starts it, and a balancer
(Debian's HAProxy) in front of several."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from assembly.machine import fanout_server
from assembly.machine.fanout_server import FanoutServer
from leaderboard.publish_secret import HEADER
from tests.haproxy_config import local_config
from tests.servers import CLOSED, free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"  # Debian's, as `make balancer` installs it
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def on_free_ports(service_url: str = "") -> FanoutServer:
    return FanoutServer(listen=f"127.0.0.1:{free_port()}", publish_listen=f"127.0.0.1:{free_port()}",
                        service_url=service_url or CLOSED.url("http://127.0.0.1"), workers=1, max_connections=256)


def publishing_to(server: FanoutServer, url: str = "") -> dict[str, Any]:
    """The service's settings that publish to this server (at `url`: through a balancer in front of it)."""
    return {"board_fanout_url": url or server.publish_url, "board_fanout_secret": SecretStr(server.publish_secret)}


def publisher_headers(server: FanoutServer) -> dict[str, str]:
    """What the service's own requests to the publisher side carry."""
    return {HEADER: server.publish_secret}


@contextlib.asynccontextmanager
async def running(server: FanoutServer, run_dir: Path) -> AsyncIterator[FanoutServer]:
    process = fanout_server.start(server, run_dir)
    try:
        await answering(server, process)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


async def answering(server: FanoutServer, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            assert process.poll() is None, "nginx with Nchan did not start (see its stderr above)"
            try:
                async with http.get(server.publish_url + "probe", headers=publisher_headers(server)) as response:
                    if response.status == 404:  # the publisher answers: no such channel yet
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("nginx with Nchan never answered")


@dataclass(frozen=True, slots=True)
class Balancer:
    """Debian's HAProxy on deploy/haproxy.cfg in front of several fan-out servers: the viewers' streams to the
    server holding the fewest (one that dies is out of the rotation within two seconds, and a connection it refuses
    meanwhile goes to another), the service's frames likewise to the first publisher port that answers."""

    servers: tuple[FanoutServer, ...]
    listen: str
    publish_listen: str
    maxconn: int = 1000
    sources: tuple[str, ...] = ()  # one local address per server: its own 64,000 ports towards that server

    @property
    def publish_url(self) -> str:
        return f"http://{self.publish_listen}/board/"

    @property
    def stream_base(self) -> str:
        return f"http://{self.listen}"

    def config(self) -> str:
        """deploy/haproxy.cfg with these servers: the balancer that ships, only its addresses local (the web
        processes' backups of the streams point where nothing listens)."""
        sources = tuple(f"source {source}:1024-65000" for source in self.sources)
        return local_config(self.listen, self.publish_listen, {
            "fanout:8095": [server.listen for server in self.servers],
            "fanout:8096": [server.publish_listen for server in self.servers],
            "web:8080": [f"127.0.0.1:{CLOSED.port}"]},
            maxconn=self.maxconn, server_options={"fanout:8095": sources, "fanout:8096": sources})


def on_free_ports_behind(servers: tuple[FanoutServer, ...]) -> Balancer:
    return Balancer(servers, listen=f"127.0.0.1:{free_port()}", publish_listen=f"127.0.0.1:{free_port()}")


def start_balancer(balancer: Balancer, run_dir: Path) -> subprocess.Popen[bytes]:
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "haproxy.cfg"
    config.write_text(balancer.config())
    return subprocess.Popen([HAPROXY, "-f", str(config), "-db"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=None)


async def until_listening(address: str, seconds: float = 10.0) -> None:
    host, _, port = address.rpartition(":")
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            _, writer = await asyncio.open_connection(host, int(port))
            writer.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def balancing(balancer: Balancer, run_dir: Path) -> AsyncIterator[Balancer]:
    process = start_balancer(balancer, run_dir)
    try:
        await until_listening(balancer.listen)
        await until_listening(balancer.publish_listen)
        yield balancer
    finally:
        process.terminate()
        process.wait(10)


@contextlib.asynccontextmanager
async def shared_redis(run_dir: Path) -> AsyncIterator[str]:
    """A Redis for the fan-out servers to share (Nchan reaches one over TCP, not the tests' Unix socket): Debian's
    redis-server on a free loopback port, nothing kept on disk."""
    run_dir.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen([REDIS_SERVER, "--bind", "127.0.0.1", "--port", address.rpartition(":")[2],
                                "--save", "", "--appendonly", "no", "--dir", str(run_dir)],
                               start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        await until_listening(address)
        yield f"redis://{address}"
    finally:
        process.terminate()
        process.wait(10)
