"""Failed sign-ins, counted in Redis per (email, address) and per email, so that a stranger who knows an
admin's email cannot lock the admin out, and a counter answers nothing about whether the email exists.

- Five failures for one email from one address within 15 minutes refuse that email from that address
  for 15 minutes: the real owner, from their own address (or any other), still gets in.
- Failures for one email from everywhere (a spread-out guess at a known password's TOTP code) lock nobody
  out: past twenty in 15 minutes every attempt at that email waits a while before its answer, the right
  password and code included. Each address's own limit (20 attempts in 15 minutes) still holds.
- Counters are keyed by a digest of the email as typed (trimmed, lower case), whether an account has it or
  not: an unknown email is counted, refused and slowed exactly like a real one.

With Redis away nothing can be counted: sign-in goes on (the per-address limit fails open the same way,
and the password and a single-use TOTP code are still both needed), and a warning is logged.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
MAX_FAILURES = 5  # for one email from one address within WINDOW_SECONDS: that pair is refused
WINDOW_SECONDS = 900
SLOW_AFTER = 20  # failures for one email from every address within WINDOW_SECONDS: its attempts are slowed
SLOW_SECONDS = 1.0


@dataclass(frozen=True)
class Standing:
    locked: bool  # this email failed too often from this address: refused without a look at the password
    slowed: bool  # this email fails from everywhere: every attempt at it waits SLOW_SECONDS


@dataclass(frozen=True)
class Counted:
    """The failure counts once this one is counted (0: not counted, Redis is away)."""

    here: int
    everywhere: int

    @property
    def locks_now(self) -> bool:
        return self.here == MAX_FAILURES

    @property
    def slows_now(self) -> bool:
        return self.everywhere == SLOW_AFTER


def keys(email: str, address: str | None) -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    return f"admin-signin-failures:{digest}:{address or 'unknown'}", f"admin-signin-failures:{digest}"


async def standing(redis: Redis, email: str, address: str | None) -> Standing:
    try:
        here, everywhere = await redis.mget(keys(email, address))
    except RedisError as exc:
        log.warning("sign-in failures not read, Redis is unavailable: %r", exc)
        return Standing(False, False)
    return Standing(int(here or 0) >= MAX_FAILURES, int(everywhere or 0) >= SLOW_AFTER)


async def count_failure(redis: Redis, email: str, address: str | None) -> Counted:
    """One more failure; the pair that reaches MAX_FAILURES stays refused a whole window from now."""
    pair, email_key = keys(email, address)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            for name in (pair, email_key):  # a window starts at its first failure (SET NX keeps a running one)
                pipe.set(name, 0, ex=WINDOW_SECONDS, nx=True)
                pipe.incr(name)
            _, here, _, everywhere = await pipe.execute()
        if int(here) == MAX_FAILURES:
            await redis.expire(pair, WINDOW_SECONDS)
    except RedisError as exc:
        log.warning("sign-in failure not counted, Redis is unavailable: %r", exc)
        return Counted(0, 0)
    return Counted(int(here), int(everywhere))


async def clear(redis: Redis, email: str, address: str | None) -> None:
    """A right password and code from an address: its earlier typos there are forgiven."""
    try:
        await redis.delete(keys(email, address)[0])
    except RedisError as exc:
        log.warning("sign-in failures not cleared, Redis is unavailable: %r", exc)
