"""Every Redis client of the service, made from REDIS_URL: a plain server, or the master a group of Sentinels names.

Plain URLs are redis-py's own: `redis://[[user]:password@]host[:port][/db]`, `rediss://…` (TLS), `unix:///path?db=N`.

Behind Sentinel, the URL is

    redis+sentinel://[[user]:password@]host1[:port],host2[:port],host3[:port]/<master name>[/<db>]
        [?sentinel_username=…&sentinel_password=…]

(`rediss+sentinel://` for TLS to the servers and the sentinels alike). A sentinel's port defaults to 26379; the
user and password are the Redis servers' (what `masterauth`/`requirepass` hold), the sentinels' own, if they have
one, go in the query. The form is the one Redis-Sentinel-Url (exponea) defined and LangChain, RedisVL, Prefect and
docket accept (a comma-separated list of sentinels in the host part, the master's name as the first path segment, the
db as the second): redis-py has no URL for Sentinel (redis/redis-py#3084, its pull request #537 never merged), so an
operator who has met one has met this one, and a URL that names every sentinel needs no other setting.

The clients are redis-py's own Sentinel clients (`Sentinel.master_for`): each new connection asks the sentinels for
the master's address, and a connection that finds the master demoted (READONLY) is dropped with a ConnectionError
(redis-py's `SentinelManagedConnection.read_response`, sync and async alike), so the caller's next command reaches
the new master. Nothing here discovers or fails over on its own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme: TLS or not
PLAIN_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_PORT = 26379
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
# How long a sentinel may take to accept a connection or answer: one on a dead host is passed over after that, and
# the next one asked (redis-py asks them in turn, the last one that answered first).
SENTINEL_SECONDS = 2.0
# The password before the @ (the servers'), and the sentinels' in the query.
SECRET_PARTS = re.compile(r"(://[^:@/]*:|[?&]sentinel_password=)([^@&]*)(@|&|$)")
URL_FORM = "redis+sentinel://[[user]:password@]host1[:port],host2[:port],…/<master name>[/<db>]"


class RedisUrlError(ValueError):
    """REDIS_URL cannot be read; the message says what is wrong and the form expected."""


@dataclass(frozen=True)
class SentinelUrl:
    """What a `redis+sentinel://` URL names: the sentinels, the master's name, and how to talk to the servers."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    tls: bool = False

    def server_options(self) -> dict[str, Any]:
        """The options of a connection to a Redis server (the master)."""
        return {"db": self.db, "username": self.username, "password": self.password, "ssl": self.tls}

    def sentinel_options(self, retry: Retry | AsyncRetry) -> dict[str, Any]:
        """The options of a connection to a sentinel. `retry`: none (redis-py's default tries a dead sentinel four
        times, seconds apart, before the discovery moves on to the next one, which is the retry that matters)."""
        return {"username": self.sentinel_username, "password": self.sentinel_password, "ssl": self.tls,
                "socket_timeout": SENTINEL_SECONDS, "socket_connect_timeout": SENTINEL_SECONDS, "retry": retry}


def is_sentinel_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in SENTINEL_SCHEMES


def shown(url: str) -> str:
    """The URL as a message may show it: its passwords masked."""
    return SECRET_PARTS.sub(lambda found: f"{found[1]}***{found[3]}", url)


def _number(text: str, what: str, url: str, low: int = 0, high: int = 2**31) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise RedisUrlError(f"REDIS_URL {shown(url)}: {what} {text!r} is not a whole number from {low} to {high}")
    return int(text)


def _sentinel_address(item: str, url: str) -> tuple[str, int]:
    """`host`, `host:port` or `[v6 address]:port`."""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = item.partition(":")
    if not host:
        raise RedisUrlError(f"REDIS_URL {shown(url)}: an empty sentinel address (expected {URL_FORM})")
    return host, _number(port, "the sentinel port", url, 1, 65535) if port else SENTINEL_PORT


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The parts of a `redis+sentinel://` URL; RedisUrlError names what is wrong."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SENTINEL_SCHEMES or not rest:
        raise RedisUrlError(f"REDIS_URL {shown(url)} is not a Sentinel URL ({URL_FORM})")
    parts = urlsplit(f"sentinel://{rest}")  # the netloc as written: urlsplit reads no host list's ports
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    sentinels = tuple(_sentinel_address(item.strip(), url) for item in hosts.split(","))
    path = [segment for segment in parts.path.split("/") if segment]
    if not path or len(path) > 2:
        raise RedisUrlError(f"REDIS_URL {shown(url)}: the path must be /<master name> or /<master name>/<db> "
                            f"(expected {URL_FORM})")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if unknown := sorted(set(query) - set(SENTINEL_OPTIONS)):
        raise RedisUrlError(f"REDIS_URL {shown(url)}: unknown option(s) {', '.join(unknown)} (only "
                            f"{', '.join(SENTINEL_OPTIONS)}; the servers' user and password go before the @)")
    return SentinelUrl(sentinels, unquote(path[0]), _number(path[1], "the db", url) if len(path) == 2 else 0,
                       unquote(username) or None, unquote(password) or None,
                       query.get("sentinel_username") or None, query.get("sentinel_password") or None,
                       SENTINEL_SCHEMES[scheme.lower()])


def redis_url_problem(url: str) -> str | None:
    """Why REDIS_URL cannot be used, or None: for settings to refuse at start-up what would fail at the first call."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        if scheme in SENTINEL_SCHEMES:
            parse_sentinel_url(url)
        elif scheme in PLAIN_SCHEMES:
            parse_url(url)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        else:
            return (f"REDIS_URL {shown(url)} must start with redis://, rediss://, unix:// or redis+sentinel:// "
                    f"({URL_FORM})")
    except ValueError as exc:  # RedisUrlError, or redis-py's own for a plain URL
        return str(exc) if isinstance(exc, RedisUrlError) else f"REDIS_URL {shown(url)}: {exc}"
    return None


class SentinelMaster(redis.Redis):
    """The master's client, closing the connections to the sentinels with its own: redis-py leaves those to the
    Sentinel object, which no caller of this module holds."""

    def close(self) -> None:
        super().close()
        if manager := getattr(self.connection_pool, "sentinel_manager", None):
            manager.close()


class AsyncSentinelMaster(redis.asyncio.Redis):
    """As `SentinelMaster`, for asyncio."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        closing_pool = close_connection_pool or (close_connection_pool is None and self.auto_close_connection_pool)
        if closing_pool and (manager := getattr(self.connection_pool, "sentinel_manager", None)):
            await manager.aclose()


class SendKeepingCancellation(AbstractConnection):
    """A connection that sends under `asyncio.timeout` rather than redis-py's `asyncio.wait_for`.

    On Python 3.11, `wait_for` returns the inner result when its caller is cancelled just as the send completes
    (CPython gh-86296; 3.12 builds `wait_for` on `timeout`). The cancellation is lost, and a loop that `cancel()`
    should stop talks to Redis on. redis-py 8 gives every connection a 5 s socket_timeout, so every send of every
    command went through `wait_for`. The body is redis-py's own (`AbstractConnection.send_packed_command`) but for the
    timeout; reading already uses `asyncio.timeout`."""

    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        parts = [command.encode()] if isinstance(command, str) else [command] if isinstance(command, bytes) else command
        try:
            if (writer := self._writer) is None:  # connected just above, unless the server closed at once
                raise OSError("the connection closed")
            async with asyncio.timeout(self.socket_timeout or None):
                writer.writelines(parts)
                await writer.drain()
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise redis.TimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            number, message = ("UNKNOWN", exc.args[0]) if len(exc.args) == 1 else exc.args[:2]
            raise redis.ConnectionError(f"Error {number} while writing to socket. {message}.") from exc
        except BaseException:  # cancelled midway: the connection may hold half a command, so it goes
            await self.disconnect(nowait=True)
            raise


_KEEPING_CANCELLATION: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def connection_class_keeping_cancellation(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """`connection_class` (plain, TLS, Unix socket, Sentinel-managed) with `SendKeepingCancellation`'s send."""
    if issubclass(connection_class, SendKeepingCancellation):
        return connection_class
    if connection_class not in _KEEPING_CANCELLATION:
        _KEEPING_CANCELLATION[connection_class] = type(f"{connection_class.__name__}KeepingCancellation",
                                                       (SendKeepingCancellation, connection_class), {})
    return _KEEPING_CANCELLATION[connection_class]


def _keep_cancellation(client: redis.asyncio.Redis) -> redis.asyncio.Redis:
    pool = client.connection_pool  # makes its connections as they are needed, none yet
    pool.connection_class = connection_class_keeping_cancellation(pool.connection_class)
    return client


def sync_client(url: str, **options: Any) -> redis.Redis:
    """A synchronous client (RQ, the supervisor); `options` are redis-py's connection options."""
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, **options)
    found = parse_sentinel_url(url)
    sentinels = Sentinel(  # type: ignore[no-untyped-call]  # unannotated in redis-py
        found.sentinels, sentinel_kwargs=found.sentinel_options(Retry(NoBackoff(), 0)))
    client: redis.Redis = sentinels.master_for(  # type: ignore[no-untyped-call]
        found.master, redis_class=SentinelMaster, **found.server_options(), **options)
    return client


def async_client(url: str, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client with a pool of its own that opens connections as needed (commands, jobs)."""
    if not is_sentinel_url(url):
        return _keep_cancellation(redis.asyncio.Redis.from_url(url, **options))
    found = parse_sentinel_url(url)
    sentinels = AsyncSentinel(  # type: ignore[no-untyped-call]  # unannotated in redis-py
        found.sentinels, sentinel_kwargs=found.sentinel_options(AsyncRetry(NoBackoff(), 0)))
    client: redis.asyncio.Redis = sentinels.master_for(found.master, redis_class=AsyncSentinelMaster,
                                                       **found.server_options(), **options)
    return _keep_cancellation(client)


class BlockingSentinelPool(AsyncSentinelPool, redis.asyncio.BlockingConnectionPool):
    """The master's connections (Sentinel's pool) at most `max_connections`, a caller past them waiting up to
    `timeout` for one (the blocking pool's `get_connection`/`release`): redis-py's SentinelConnectionPool alone
    raises at its bound instead of waiting. Both call `super().__init__`, so the MRO hands the bound and the wait
    to the blocking pool and the Sentinel's parts to the Sentinel pool."""


def bounded_async_client(url: str, max_connections: int, timeout: float, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client whose pool holds at most `max_connections`, a caller waiting up to `timeout` s for one."""
    if not is_sentinel_url(url):
        pool = redis.asyncio.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout,
                                                             **options)
        return _keep_cancellation(redis.asyncio.Redis(connection_pool=pool))
    found = parse_sentinel_url(url)
    sentinels = AsyncSentinel(  # type: ignore[no-untyped-call]  # unannotated in redis-py
        found.sentinels, sentinel_kwargs=found.sentinel_options(AsyncRetry(NoBackoff(), 0)))
    client: redis.asyncio.Redis = sentinels.master_for(
        found.master, redis_class=AsyncSentinelMaster, connection_pool_class=BlockingSentinelPool,
        max_connections=max_connections, timeout=timeout, **found.server_options(), **options)
    return _keep_cancellation(client)
