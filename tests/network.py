"""A TCP relay in front of PostgreSQL or Redis that plays the network's faults: going silent, as a
firewall or NAT does when it forgets an idle connection (nothing is refused or closed, bytes simply
stop arriving); delivering an answer late, or every answer (a slow link); passing on a server's goodbye but not
its close."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.connection import parse_url as parse_redis_url
from sqlalchemy.engine import make_url

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@dataclass
class HeldAnswer:
    """The answer to one request, kept back until released: it left the server in time and reaches its
    client late (a congested link, a stalled proxy)."""

    request_holds: bytes | None  # the request whose answer is held contains these bytes (None: any request)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # the server has answered; the answer waits
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class SilentRelay:
    connect: Connect  # opens a connection to the real server
    port: int = 0
    _next_hold: HeldAnswer | None = None
    _close_held: asyncio.Event | None = None
    _server: asyncio.Server | None = None
    _pipes: list[Pipe] = field(default_factory=list)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _closed: bool = False
    refusing: bool = False  # new connections are closed at once, as a host that is gone (nothing listens there)
    answer_delay: float = 0.0  # every answer reaches its client this many seconds late: a slow or congested link

    async def start(self) -> SilentRelay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def forget_open_connections(self) -> None:
        """From now on the connections already open carry nothing, either way; new ones work."""
        for pipe in self._pipes:
            pipe.silent = True

    def cut_open_connections(self) -> None:
        """Every connection open now is closed, both ways, at once: its server's host is gone (a failover's old
        primary), or a balancer cut the sessions of a server it no longer sends to. New ones work."""
        for pipe in self._pipes:
            pipe.close()
            if pipe.hold is not None:
                pipe.hold.release()

    def hold_next_answer(self, request_holds: bytes | None = None) -> HeldAnswer:
        """Hold back the server's answer to the next request (containing `request_holds`) on any connection,
        until released; other connections, and later requests, are not held."""
        self._next_hold = HeldAnswer(request_holds)
        return self._next_hold

    def hold_next_close(self) -> asyncio.Event:
        """The next connection the server closes stays open on its client's side until the client speaks
        again: the moment between a server's goodbye and the socket's close, held open. The event is set
        once the goodbye has been passed on."""
        self._close_held = asyncio.Event()
        return self._close_held

    def _server_closed(self) -> bool:
        """Whether to keep the client's side of a connection the server has just closed open."""
        held, self._close_held = self._close_held, None
        if held is None:
            return False
        held.set()
        return True

    def _claim_hold(self, request: bytes) -> HeldAnswer | None:
        hold = self._next_hold
        if hold is None or (hold.request_holds is not None and hold.request_holds not in request):
            return None
        self._next_hold = None
        return hold

    async def close(self) -> None:
        """Every socket closed, both sides, and every relaying task finished (the tests run with
        ResourceWarning as an error: a socket left for the garbage collector fails a later test)."""
        self._closed = True
        if self._server is not None:
            self._server.close()
        for pipe in self._pipes:
            pipe.close()
            if pipe.hold is not None:
                pipe.hold.release()
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
            if self._closed or self.refusing:
                return
            up_reader, up_writer = await self.connect()
            pipe.writers.append(up_writer)
            if self._closed:
                return
            await asyncio.gather(pipe.pump(reader, up_writer, on_request=self._claim_hold),
                                 pipe.pump(up_reader, writer, on_server_close=self._server_closed,
                                           delay=lambda: self.answer_delay))
        finally:
            pipe.close()
            self._handlers.discard(task)


@dataclass
class Pipe:
    writers: list[asyncio.StreamWriter]
    silent: bool = False
    hold: HeldAnswer | None = None
    server_ended: bool = False

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                   on_request: Callable[[bytes], HeldAnswer | None] | None = None,
                   on_server_close: Callable[[], bool] | None = None,
                   delay: Callable[[], float] = lambda: 0.0) -> None:
        """Copy one direction (requests given `on_request`, answers given `on_server_close`) until its end,
        then close both sides, unless `on_server_close` says to keep the client's side open; each piece
        `delay()` seconds late."""
        answers = on_server_close is not None
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if not answers and self.server_ended:
                    break  # the client's first word to a server gone ends it, as the kernel's reset would
                if on_request is not None and (self.hold is None or self.hold.released.is_set()):
                    self.hold = on_request(data)
                if answers and self.hold is not None and not self.hold.released.is_set():
                    self.hold.arrived.set()
                    await self.hold.released.wait()
                if late := delay():
                    await asyncio.sleep(late)
                if not self.silent:  # silent: swallowed, as a dropped packet is
                    writer.write(data)
                    await writer.drain()
        if on_server_close is not None:
            self.server_ended = True
            if on_server_close():
                return
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
