"""Apps with short stream intervals, and a small Server-Sent Events reader that never hangs a test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.kit.keys import RELAY
from leaderboard.keys import LEADERBOARD_CONFIG

# Fast enough for tests, still the production code paths. Contest settings are never cached, so a test
# may change visibility between two requests.
TEST_STREAM = {"heartbeat_seconds": 30.0, "contest_ttl_seconds": 0.0, "shutdown_grace_seconds": 0.5}

MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def make_client(clean: None, settings: Settings) -> AsyncIterator[MakeClient]:
    """A factory of app instances on the same PostgreSQL and Redis, as several web processes are."""
    clients: list[TestClient] = []

    async def make(relay: bool = False, settings_update: dict[str, Any] | None = None, **overrides: Any) -> TestClient:
        """`relay`: keep the app's outbox relay running (it refreshes boards on its own every second;
        most tests publish by hand, and count frames, so it is stopped for them)."""
        app = create_app(settings.model_copy(update=settings_update or {}))
        app[LEADERBOARD_CONFIG] = replace(app[LEADERBOARD_CONFIG], **{**TEST_STREAM, **overrides})
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        if not relay:
            await app[RELAY].stop()
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def board_client(make_client: MakeClient) -> TestClient:
    return await make_client()


@pytest.fixture
async def streams() -> AsyncIterator[Callable[..., Awaitable[tuple[aiohttp.ClientResponse, EventReader]]]]:
    """Opens streams and closes them all at the end of the test."""
    readers: list[EventReader] = []

    async def open_(client: TestClient, slug: str, headers: dict[str, str] | None = None,
                    query: str = "") -> tuple[aiohttp.ClientResponse, EventReader]:
        response, reader = await open_stream(client, slug, headers, query)
        readers.append(reader)
        return response, reader

    yield open_
    for reader in readers:
        await reader.close()


@dataclass
class Event:
    event: str | None
    id: str | None
    data: str

    @property
    def board(self) -> dict[str, Any]:
        return json.loads(self.data)

    @property
    def version(self) -> int:
        return int(self.id or 0)


class EventReader:
    """Reads text/event-stream in a task of its own into a queue, so every wait in a test is bounded."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []
        self.retry: int | None = None
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()
        self.arrivals: list[tuple[float, Event]] = []  # (loop time, event), everything received so far
        self._task = asyncio.create_task(self._read_all())

    async def next(self, timeout: float = 5.0) -> Event | None:
        """The next event, or None once the server has ended the stream."""
        return await asyncio.wait_for(self.events.get(), timeout)

    async def until(self, predicate: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        async def scan() -> Event:
            while True:
                event = await self.events.get()
                assert event is not None, "the stream ended first"
                if predicate(event):
                    return event

        return await asyncio.wait_for(scan(), timeout)

    async def nothing_within(self, seconds: float) -> bool:
        await asyncio.sleep(seconds)
        return self.events.empty()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.response.close()

    async def _read_all(self) -> None:
        try:
            while (event := await self._read_one()) is not None:
                self.arrivals.append((asyncio.get_running_loop().time(), event))
                self.events.put_nowait(event)
        except (aiohttp.ClientError, ConnectionError):
            pass
        self.events.put_nowait(None)

    async def _read_one(self) -> Event | None:
        kind: str | None = None
        event_id: str | None = None
        data: list[str] = []
        while True:
            raw = await self.response.content.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\n").rstrip("\r")
            if not line:
                if data:
                    return Event(kind, event_id, "\n".join(data))
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                kind = value
            elif name == "id":
                event_id = value
            elif name == "retry":
                self.retry = int(value)


async def open_stream(client: TestClient, slug: str, headers: dict[str, str] | None = None,
                      query: str = "") -> tuple[aiohttp.ClientResponse, EventReader]:
    response = await asyncio.wait_for(
        client.get(f"/api/v1/contests/{slug}/leaderboard/stream{query}", headers=headers or {}), 5)
    return response, EventReader(response)
