"""Where the tests' PostgreSQL and Redis come from: the URLs in the environment (a throwaway
database and a dedicated Redis DB on them), or embedded servers in a temporary folder."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from pydantic_settings import BaseSettings
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from assembly.machine.embedded import ServiceUrls, service_urls
from gateway.db.engine import create_engine

# The Redis DBs the tests flush: 13 on its own; under pytest-xdist one per worker (gw0 13, gw1 14, gw2 15,
# gw3 12, …), so that two workers sharing a Redis never flush each other's keys.
TEST_REDIS_DBS = (13, 14, 15, 12, 11, 10, 9, 8)


def worker_redis_db(worker: str | None = None) -> int:
    """This process's Redis DB: xdist names its workers gw0, gw1, … in PYTEST_XDIST_WORKER."""
    worker = worker if worker is not None else os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(worker.removeprefix("gw"))
    if number >= len(TEST_REDIS_DBS):
        raise RuntimeError(f"at most {len(TEST_REDIS_DBS)} pytest-xdist workers (one Redis DB each): got {worker}")
    return TEST_REDIS_DBS[number]


async def inside_one_window(window_seconds: int = 60, needed_seconds: float = 10) -> None:
    """Wait, if need be, so a test of a fixed-window limit does not straddle two windows."""
    left = window_seconds - time.time() % window_seconds
    if left < needed_seconds:
        await asyncio.sleep(left + 0.05)


def kernels_own_ports() -> range:
    """The ports the kernel picks by itself, for a socket bound to port 0 and for every outgoing connection's end."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return range(32768, 61000)  # Linux's default
    return range(int(low), int(high) + 1)

HANDED_OUT: deque[int] = deque(maxlen=64)  # the ports `free_port` gave this process last
# Ports a machine's own servers listen on by default, never handed out even while free: a test's server there could be
# taken for the machine's, and the suite's guards refuse them (bench/cluster/redis_group.py: no Redis on 6379 or 26379).
# Those below the kernel's own range fall in a test process's share: Redis Sentinel, RabbitMQ's nodes, MongoDB.
DEFAULT_PORTS = frozenset({6379, 26379, 25672, 27017, 27018, 27019, 5432, 3306, 5672, 1883, 4222})


def ports_of(worker: str) -> list[int]:
    """The ports a pytest-xdist process may hand out (`free_port`). Below the kernel's range each process has its
    own share, so two never pick the same port at once; the machine's servers' default ports are left out."""
    lowest, highest = 20000, min(kernels_own_ports().start, 32768)
    share = (highest - lowest) // len(TEST_REDIS_DBS)
    start = lowest + int(worker.removeprefix("gw")) * share
    return [port for port in range(start, start + share) if port not in DEFAULT_PORTS]


def free_port(worker: str | None = None) -> int:
    """A TCP port on loopback that nothing listens on right now, for a server a test starts later on it.

    Never one of the kernel's own: between this look and the server's start, the kernel could give that port to an
    outgoing connection (to PostgreSQL, Redis, a browser's), and the server would fail to start ("address already in
    use"), its app's startup done and never cleaned up. Each process picks in its share (`ports_of`), and not twice in
    a row, for a test that asks for several ports before it starts anything on them (a port handed out lately is not
    handed out again)."""
    ports = ports_of(worker if worker is not None else os.environ.get("PYTEST_XDIST_WORKER", "gw0"))
    for port in random.sample(ports, 200):
        if port in HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # taken: a server of this process, or a service of the machine's
                continue
            HANDED_OUT.append(port)
            return port
    raise RuntimeError(f"no free port among 200 tried in {ports[0]}-{ports[-1]}")


def new_connection_answered(port: int, path: str = "/healthz", host: str = "test") -> bool:
    """One new connection to the loopback port, asked for `path`: a 200, or not within 2 s (a frozen process's kernel
    still completes the handshake: only the answer tells)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            return connection.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class ClosedPort:
    """A loopback port of the suite's own where nothing listens nor can: bound, never listening, for as long as the
    process runs. A connection to it is refused at once; a server asked to listen there fails to start."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])

    def url(self, default: str) -> str:
        """`default` (a URL on loopback) at this port instead, its path kept."""
        return urlunsplit(urlsplit(default)._replace(netloc=f"127.0.0.1:{self.port}"))


CLOSED = ClosedPort()  # this process's (each pytest-xdist worker has its own)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def local_defaults(model: type[BaseSettings]) -> dict[str, str | int]:
    """The settings of `model` whose defaults are this machine's services (a URL on loopback: the payment sandbox,
    the channels' fakes, the media server, the service itself; the service's port): what `make run` listens on."""
    found: dict[str, str | int] = {}
    for name, field in model.model_fields.items():
        default = field.default
        if isinstance(default, str) and "://" in default and urlsplit(default).hostname in LOOPBACK_NAMES:
            found[name] = default
        elif isinstance(default, int) and not isinstance(default, bool) and name.endswith("_port"):
            found[name] = default
    return found


def aimed_at(closed: ClosedPort, model: type[BaseSettings]) -> dict[str, str]:
    """The environment that moves every local default of `model` to the closed port (the suite's processes, and the
    processes they start, read it): no test reaches a default port, where `make run` may be listening."""
    return {name.upper(): closed.url(default) if isinstance(default, str) else str(closed.port)
            for name, default in local_defaults(model).items()}


def redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{db}"))


async def _admin_sql(server_url: str, statement: str) -> None:
    engine = create_engine(server_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    name = f"gateway_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin_sql(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def test_services(database_url: str | None, redis_url: str | None, scratch: Path) -> Iterator[ServiceUrls]:
    with service_urls(database_url, redis_url, scratch) as urls, throwaway_database(urls.database_url) as db:
        r_url = redis_url_with_db(urls.redis_url, worker_redis_db())
        redis.Redis.from_url(r_url).flushdb()
        try:
            yield ServiceUrls(db, r_url)
        finally:
            redis.Redis.from_url(r_url).flushdb()


async def kill_redis_clients(redis: AsyncRedis, kind: str) -> int:
    """CLIENT KILL for the clients of this test's Redis DB alone, as a Redis restart would drop them: other
    pytest-xdist workers may share the server (their own DB), and this connection is kept (SKIPME)."""
    db = int(redis.connection_pool.connection_kwargs.get("db") or 0)
    killed = 0
    for client in await redis.client_list(_type=kind):
        if int(client["db"]) == db:
            killed += int(await redis.execute_command("CLIENT", "KILL", "ID", client["id"], "SKIPME", "yes"))
    return killed
