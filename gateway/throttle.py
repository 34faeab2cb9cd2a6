"""Fixed-window rate limits in Redis, shared by every web process."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import time

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.errors import RateLimited

log = logging.getLogger(__name__)

# Votes created per address per minute, form and API together. Generous: behind carrier NAT,
# many phones share one address.
VOTE_LIMIT = 30
VOTE_WINDOW = 60


async def hit(redis: Redis, key: str, limit: int, window_seconds: int, now: float | None = None, *,
              if_unavailable: bool = True) -> bool:
    """Count one attempt under `key`; True while within `limit` per window.

    With Redis away (restarting), nothing can be counted: `if_unavailable` is the answer then. A vote
    goes through (fail open: PostgreSQL's per-payer limits still hold, and a show does not stop
    for a cache); optional extra work is skipped.
    """
    slot = int((now if now is not None else time.time()) // window_seconds)
    name = f"throttle:{key}:{slot}"
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds + 1)
            count, _ = await pipe.execute()
    except RedisError as exc:
        log.warning("rate limit %s not counted, Redis is unavailable: %r", key, exc)
        return if_unavailable
    return int(count) <= limit


async def enforce(redis: Redis, key: str, limit: int, window_seconds: int, message: str) -> None:
    if not await hit(redis, key, limit, window_seconds):
        raise RateLimited(message)


def client_address(request: web.Request) -> str:
    """Who to rate-limit for this request."""
    return address_key(request.remote, request.headers.get("X-Forwarded-For"))


def address_key(peer: str | None, forwarded_for: str | None) -> str:
    """The peer, or the last X-Forwarded-For hop when the peer is our own proxy (a private or
    loopback address); IPv6 counts per /64, what one subscriber usually holds."""
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return peer or "unknown"
    if forwarded_for and (address.is_private or address.is_loopback):
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(forwarded_for.split(",")[-1].strip())
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def vote_limit_key(request: web.Request) -> str:
    """One budget per address for creating votes, shared by the form and the JSON API."""
    return f"web-vote:{client_address(request)}"
