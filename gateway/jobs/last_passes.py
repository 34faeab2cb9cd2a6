"""When each periodic pass last completed a run, kept in Redis so every web process can tell.

The worker records it where it runs every pass (assembly.worker.passes.run_pass); `/metrics` shows the ages
(`gateway_periodic_last_pass_age_seconds{pass=...}`), the control room shows them against each pass's threshold
(`WorkerPass.silent_after`, PeriodicPassSilent's), and `/readyz` says `degraded` when the reconciler has fallen
silent (a lost callback then costs a vote, not a delay).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RELAY_INTERVAL_SECONDS = 5  # the relay's safety net (the web process relays at once after each confirmation)
RECONCILE_INTERVAL_SECONDS = 10
# Three missed passes, plus room for a slow one (a pass over 200 due orders, paced under MTN's cap,
# takes ~25 s) and the enqueuer's back-off after a Redis stall.
RECONCILE_STALE_SECONDS = 3 * RECONCILE_INTERVAL_SECONDS + 15


def pass_key(name: str) -> str:
    return f"periodic:last-pass:{name}"


async def note_pass(redis: Redis, name: str, now: float | None = None) -> None:
    """Record that the pass `name` completed a run now. Never fails the pass: Redis away only makes it look late."""
    try:
        await redis.set(pass_key(name), repr(now if now is not None else time.time()))
    except RedisError as exc:
        log.warning("could not record the %s pass, Redis is unavailable: %r", name, exc)


async def pass_ages(redis: Redis, names: Iterable[str], now: float | None = None) -> dict[str, float | None]:
    """Seconds since each named pass's last completed run; None for one never recorded. Raises RedisError."""
    now = now if now is not None else time.time()
    names = list(names)
    values = await redis.mget([pass_key(name) for name in names]) if names else []
    return {name: None if value is None else max(0.0, now - float(value))
            for name, value in zip(names, values, strict=True)}


def reconciler_problem(last_pass_age: float | None, process_age: float) -> str | None:
    """Why the reconciler looks stopped, or None while it keeps up.

    Never having seen a pass counts only once this web process has been up as long as three passes
    take: a fresh install, or a Redis that restarted empty, is not an alarm during its first minute.
    """
    if last_pass_age is None:
        if process_age <= RECONCILE_STALE_SECONDS:
            return None
        return (f"no reconciler pass recorded in the {process_age:.0f} s this process has been up "
                "(is a worker running the periodic jobs?)")
    if last_pass_age > RECONCILE_STALE_SECONDS:
        return (f"the reconciler's last completed pass was {last_pass_age:.0f} s ago "
                f"(it runs every {RECONCILE_INTERVAL_SECONDS} s; over {RECONCILE_STALE_SECONDS} s means passes missed)")
    return None
