"""A TCP relay in front of PostgreSQL that can go silent, as a firewall or NAT does when it forgets
an idle connection: nothing is refused or closed, bytes simply stop arriving."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url


@dataclass
class SilentRelay:
    upstream: str  # a PostgreSQL URL (TCP, or a Unix socket directory in ?host=)
    port: int = 0
    _server: asyncio.Server | None = None
    _pipes: list[Pipe] = field(default_factory=list)

    async def start(self) -> SilentRelay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self) -> str:
        """The upstream URL, reached through this relay."""
        parsed = make_url(self.upstream)
        query = {k: v for k, v in parsed.query.items() if k != "host"}
        return parsed.set(host="127.0.0.1", port=self.port, query=query).render_as_string(hide_password=False)

    def forget_open_connections(self) -> None:
        """From now on the connections already open carry nothing, either way; new ones work."""
        for pipe in self._pipes:
            pipe.silent = True

    async def close(self) -> None:
        for pipe in self._pipes:
            pipe.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parsed = make_url(self.upstream)
        socket_dir = parsed.query.get("host")
        if socket_dir:
            up_reader, up_writer = await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{parsed.port or 5432}")
        else:
            up_reader, up_writer = await asyncio.open_connection(parsed.host or "127.0.0.1", parsed.port or 5432)
        pipe = Pipe([writer, up_writer])
        self._pipes.append(pipe)
        await asyncio.gather(pipe.pump(reader, up_writer), pipe.pump(up_reader, writer))


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
