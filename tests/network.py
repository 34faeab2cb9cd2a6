"""A TCP relay in front of PostgreSQL or Redis that can go silent, as a firewall or NAT does when
it forgets an idle connection: nothing is refused or closed, bytes simply stop arriving."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.connection import parse_url as parse_redis_url
from sqlalchemy.engine import make_url

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@dataclass
class SilentRelay:
    connect: Connect  # opens a connection to the real server
    port: int = 0
    _server: asyncio.Server | None = None
    _pipes: list[Pipe] = field(default_factory=list)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _closed: bool = False

    async def start(self) -> SilentRelay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def forget_open_connections(self) -> None:
        """From now on the connections already open carry nothing, either way; new ones work."""
        for pipe in self._pipes:
            pipe.silent = True

    async def close(self) -> None:
        """Every socket closed, both sides, and every relaying task finished (the tests run with
        ResourceWarning as an error: a socket left for the garbage collector fails a later test)."""
        self._closed = True
        if self._server is not None:
            self._server.close()
        for pipe in self._pipes:
            pipe.close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        for pipe in self._pipes:  # a handler may have connected upstream while we closed
            pipe.close()
            await pipe.closed()
        if self._server is not None:
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        pipe = Pipe([writer])
        self._pipes.append(pipe)
        try:
            if self._closed:
                return
            up_reader, up_writer = await self.connect()
            pipe.writers.append(up_writer)
            if self._closed:
                return
            await asyncio.gather(pipe.pump(reader, up_writer), pipe.pump(up_reader, writer))
        finally:
            pipe.close()
            self._handlers.discard(task)


@dataclass
class Pipe:
    writers: list[asyncio.StreamWriter]
    silent: bool = False

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if not self.silent:  # silent: swallowed, as a dropped packet is
                    writer.write(data)
                    await writer.drain()
        self.close()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()

    async def closed(self) -> None:
        for writer in self.writers:
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def postgres_relay(url: str) -> tuple[SilentRelay, str]:
    """A relay to the PostgreSQL of `url` (TCP, or a Unix socket directory in ?host=), and its URL."""
    parsed = make_url(url)
    socket_dir, port = parsed.query.get("host"), parsed.port or 5432

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if socket_dir:
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{port}")
        return await asyncio.open_connection(parsed.host or "127.0.0.1", port)

    relay = await SilentRelay(connect).start()
    query = {k: v for k, v in parsed.query.items() if k != "host"}
    return relay, parsed.set(host="127.0.0.1", port=relay.port, query=query).render_as_string(hide_password=False)


async def redis_relay(url: str) -> tuple[SilentRelay, str]:
    """A relay to the Redis of `url` (redis:// or unix://), and its URL (same database)."""
    parsed = parse_redis_url(url)

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if "path" in parsed:
            return await asyncio.open_unix_connection(parsed["path"])
        return await asyncio.open_connection(parsed.get("host", "127.0.0.1"), parsed.get("port", 6379))

    relay = await SilentRelay(connect).start()
    return relay, f"redis://127.0.0.1:{relay.port}/{parsed.get('db', 0)}"
