"""A fan-out server (Debian's nginx with Nchan) for a test, started as `gateway fanout` starts it, and a balancer
(Debian's HAProxy) in front of several."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from assembly import fanout_server
from assembly.fanout_server import FanoutServer
from tests.servers import CLOSED, free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"  # Debian's, as `make balancer` installs it
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def on_free_ports(service_url: str = "") -> FanoutServer:
    return FanoutServer(listen=f"127.0.0.1:{free_port()}", publish_listen=f"127.0.0.1:{free_port()}",
                        service_url=service_url or CLOSED.url("http://127.0.0.1"), workers=1, max_connections=256)


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
                async with http.get(server.publish_url + "probe") as response:
                    if response.status == 404:  # the publisher answers: no such channel yet
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("nginx with Nchan never answered")


@dataclass(frozen=True, slots=True)
class Balancer:
    """Debian's HAProxy in front of several fan-out servers, as the production balancer is in front of one: the
    viewers' streams to any server that answers (one that dies is out of the rotation within a second, and a
    connection it refuses meanwhile goes to another), the service's frames likewise to its publisher port."""

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
        def lines(port_of: Callable[[FanoutServer], str]) -> str:
            return "".join(
                f"    server s{i} {port_of(server)}"
                + (f" source {self.sources[i]}:1024-65000" if self.sources else "") + "\n"
                for i, server in enumerate(self.servers))

        return f"""global
    maxconn {self.maxconn}
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    option forwardfor
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    default-server check inter 500ms fall 2 rise 2
frontend viewers
    bind {self.listen}
    maxconn {self.maxconn}
    default_backend fanout
frontend publishers
    bind {self.publish_listen}
    # The frame kept whole until a server answers, so that one refused or dropped is sent to another.
    option http-buffer-request
    default_backend publish
backend fanout
    balance roundrobin
{lines(lambda server: server.listen)}backend publish
    balance first
{lines(lambda server: server.publish_listen)}"""


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
