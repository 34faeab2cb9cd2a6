"""Helpers for the sandbox tests: a real HTTP server that records the callbacks it receives, and polling with a
short deadline instead of fixed sleeps."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import test_utils, web

T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str] = dataclasses.field(default_factory=dict)


RECEIVED = web.AppKey("received", list[Received])


async def record(request: web.Request) -> web.Response:
    raw = await request.read()
    body = json.loads(raw) if raw else None
    request.app[RECEIVED].append(Received(request.method, request.path, dict(request.headers), body,
                                          dict(request.query)))
    return web.json_response({"ok": True})


class Receiver:
    """A callback receiver on its own port; every request to any path is recorded and answered 200."""

    def __init__(self) -> None:
        app = web.Application()
        app[RECEIVED] = []
        app.router.add_route("*", "/{tail:.*}", record)
        self.server = test_utils.TestServer(app)
        self.received: list[Received] = app[RECEIVED]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def at(self, path: str) -> list[Received]:
        return [item for item in self.received if item.path == path]

    async def wait_for(self, path: str, count: int = 1, timeout: float = 3.0) -> list[Received]:
        """Wait until at least `count` callbacks reached `path`, then return them."""
        await poll(lambda: _now(self.at(path)), lambda items: len(items) >= count, timeout)
        return self.at(path)


async def _now(value: T) -> T:
    return value


async def poll(fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 3.0) -> T:
    """Call `fetch` until `done(value)`, every 10 ms, failing after `timeout` seconds with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not done after {timeout}s: {value!r}")
        await asyncio.sleep(0.01)
