"""The status checks callbacks that are not vouched for may ask for, bounded across every web process.

A callback that carries no proof (no hash, signature or per-order secret held) could come from anyone, and anyone
knows at least their own order's id: each such callback would otherwise be kept as a row and keep a status enquiry
going on the provider's paced schedule, the one its payment prompts and money out also wait on. So such a callback
is a bounded trigger: the first about an order asks for its check at once, as the provider's own would; a later one
counts against its address's limit (`gateway.kit.throttle.UNTIED_LIMIT`, answered 429 past it), and asks for a
check at once only if none was asked for that order in the last `CHECK_INTERVAL` seconds; else it is not kept, and
its check comes once the interval is over, unless another was asked for meanwhile (`claim_check`): what a callback
says is always followed by an enquiry made after it came, one an interval at most. The marks live in Redis, by the
order's id; with Redis away nothing can be counted, and every callback asks for its check (the process's own queue
still runs one check per order at a time)."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.kit.keys import REDIS
from gateway.kit.throttle import enforce_untied_limit

log = logging.getLogger(__name__)

CHECK_INTERVAL = 10.0  # seconds: at most one check an order in this long, however many callbacks ask for it
# How long an order's first unvouched callback is remembered: past its payment window (ten minutes at most), a
# later one is no genuine provider's first.
REMEMBERED = 3600.0


async def check_due(request: web.Request, provider: str, order_id: uuid.UUID) -> bool:
    """Whether an unvouched callback about `order_id` asks for a check now (False: one was asked moments ago);
    RateLimited (429) for a repeat past its address's limit, before anything is kept."""
    redis = request.app[REDIS]
    try:
        first = await redis.set(f"callback-seen:{provider}:{order_id}", 1, nx=True, px=round(REMEMBERED * 1000))
    except RedisError as exc:
        log.warning("callback for %s not bounded, Redis is unavailable: %r", order_id, exc)
        return True
    if not first:  # a genuine provider calls back once an order: a repeat could be anyone's
        await enforce_untied_limit(request)
    return await claim_check(redis, provider, order_id)


async def claim_check(redis: Redis, provider: str, order_id: uuid.UUID) -> bool:
    """Whether a check of `order_id` may be asked for now (no other in the last CHECK_INTERVAL seconds, on any
    process), marking it asked if so. True with Redis away: nothing to ration it with."""
    try:
        due = await redis.set(f"callback-check:{provider}:{order_id}", 1, nx=True, px=round(CHECK_INTERVAL * 1000))
    except RedisError as exc:
        log.warning("callback for %s not bounded, Redis is unavailable: %r", order_id, exc)
        return True
    return bool(due)
