"""A fan-out server (Debian's nginx with Nchan) for a test, started as `gateway fanout` starts it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from assembly import fanout_server
from assembly.fanout_server import FanoutServer
from tests.servers import CLOSED, free_port


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
