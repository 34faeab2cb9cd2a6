"""Rate limits in Redis, shared by every web process: counts by fixed window, and waits of their own."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.core.errors import RateLimited
from gateway.kit.keys import REDIS, SETTINGS
from gateway.kit.settings import Network

log = logging.getLogger(__name__)

async def hit(redis: Redis, key: str, limit: int, window_seconds: int, now: float | None = None, *,
              if_unavailable: bool = True) -> bool:
    """Count one attempt under `key`; True while within `limit` per window.

    With Redis away (restarting), nothing can be counted: `if_unavailable` is the answer then. A vote
    goes through (fail open: PostgreSQL's per-payer limits still hold, and a show does not stop
    for a cache); optional extra work is skipped.
    """
    count = await attempts(redis, key, window_seconds, now)
    return if_unavailable if count is None else count <= limit


async def attempts(redis: Redis, key: str, window_seconds: int, now: float | None = None) -> int | None:
    """Count one attempt under `key`: how many there were in this window, this one included; None with Redis away.
    For a limit that depends on the count (a higher one past the first, when a slower check allows it)."""
    counted = await first_then_each(redis, key, (), 0, window_seconds, now)
    return None if counted is None else counted[0]


# `attempts` for a first key, then `hit` for each of the others in turn while all are within the limit: one round trip
# (a vote's limits took two MULTI/EXEC pipelines, ~0.2 ms of a web process's CPU).
_FIRST_THEN_EACH = """
local ttl, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local first = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ttl)
if first > limit then return {first, 0} end
for i = 2, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ttl)
  if count > limit then return {first, i - 1} end
end
return {first, 0}
"""


async def first_then_each(redis: Redis, first: str, then: Sequence[str], limit: int, window_seconds: int,
                          now: float | None = None) -> tuple[int, int] | None:
    """Count one attempt under `first` (as `attempts`) and, if it is within `limit`, one under each key of `then` in
    turn (as `hit`), stopping at the first past `limit`: `first`'s count and the 1-based place in `then` of the key
    found past it (0: none, or `first` itself was past the limit and `then` was not counted). None with Redis away."""
    slot = int((now if now is not None else time.time()) // window_seconds)
    names = [f"throttle:{key}:{slot}" for key in (first, *then)]
    try:
        counted, past = await redis.eval(_FIRST_THEN_EACH, len(names), *names, window_seconds + 1, limit)
    except RedisError as exc:
        log.warning("rate limits %s not counted, Redis is unavailable: %r", names, exc)
        return None
    return int(counted), int(past)


async def unhit(redis: Redis, key: str, window_seconds: int, now: float | None = None) -> None:
    """Take back one attempt `hit` counted (it was refused by a later limit, and cost nothing)."""
    slot = int((now if now is not None else time.time()) // window_seconds)
    try:
        await redis.decr(f"throttle:{key}:{slot}")
    except RedisError as exc:
        log.warning("rate limit %s not taken back, Redis is unavailable: %r", key, exc)


async def count(redis: Redis, key: str, window_seconds: int, now: float | None = None) -> int:
    """What `hit` has counted under `key` in this window (0 with Redis away: nothing is known)."""
    slot = int((now if now is not None else time.time()) // window_seconds)
    try:
        value = await redis.get(f"throttle:{key}:{slot}")
    except RedisError as exc:
        log.warning("rate limit %s not read, Redis is unavailable: %r", key, exc)
        return 0
    return int(value or 0)


async def once_per(redis: Redis, key: str, seconds: int, *, if_unavailable: bool = True) -> bool:
    """True for an attempt under `key` with none let through in the `seconds` before it, and the wait starts again
    from it: a wait of its own rather than a count by clock window (`hit` with a limit of 1), which lets two attempts
    a second apart through across the window's turn. With Redis away, `if_unavailable` is the answer."""
    try:
        return bool(await redis.set(f"once:{key}", "1", nx=True, ex=seconds))
    except RedisError as exc:
        log.warning("wait %s not counted, Redis is unavailable: %r", key, exc)
        return if_unavailable


async def forget_once(redis: Redis, key: str) -> None:
    """Take back what `once_per` let through (it was refused by a later limit, and cost nothing)."""
    try:
        await redis.delete(f"once:{key}")
    except RedisError as exc:
        log.warning("wait %s not taken back, Redis is unavailable: %r", key, exc)


async def enforce(redis: Redis, key: str, limit: int, window_seconds: int, message: str) -> None:
    if not await hit(redis, key, limit, window_seconds):
        raise RateLimited(message)


# Inbound notifications (payment callbacks, USSD session events) per address per minute that are
# not vouched for (see `payments.callbacks.take_callback`): a provider's own never count.
UNTIED_LIMIT = 30
UNTIED_WINDOW = 60


async def enforce_untied_limit(request: web.Request) -> None:
    """Count a notification that names no order of ours; RateLimited (429) once its address is over."""
    await enforce(request.app[REDIS], f"untied:{client_address(request)}", UNTIED_LIMIT, UNTIED_WINDOW,
                  "Too many notifications about no order of ours from this address; try again in a minute.")


def client_address(request: web.Request) -> str:
    """Who to rate-limit for this request (votes, live streams, callbacks)."""
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", ()))  # a proxy appends to the last line
    return address_key(request.remote, forwarded or None, request.app[SETTINGS].proxy_networks)


def address_key(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: the peer, unless the peer is one of our proxies (`trusted`, from
    TRUSTED_PROXIES). Then X-Forwarded-For is read from the right, one hop per trusted proxy: each
    proxy appends the address it saw, so the right-most hop that is not our proxy is the client, and
    whatever stands left of it was written by the client and proves nothing. IPv6 counts per /64,
    what one subscriber usually holds."""
    try:
        address = unmapped(ipaddress.ip_address(peer or ""))
    except ValueError:
        return peer or "unknown"
    for hop in reversed((forwarded_for or "").split(",")):
        if not any(address in network for network in trusted):
            break
        try:
            address = unmapped(ipaddress.ip_address(hop.strip()))
        except ValueError:
            break  # garbage: the last address we could read stands
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4 peer seen through a dual-stack socket (::ffff:a.b.c.d) as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
