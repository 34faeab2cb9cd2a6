"""Failed sign-ins, counted in Redis per (email, address) and per email, so that a stranger who knows an
admin's email cannot lock the admin out, and a counter answers nothing about whether the email exists.

- Five failures for one email from one address within 15 minutes refuse that email from that address
  for 15 minutes: the real owner, from their own address (or any other), still gets in.
- Failures for one email from everywhere (a spread-out guess, a flood from many addresses) lock nobody out:
  past twenty in 15 minutes the email is slowed. An attempt at it whose code is not a right one of the
  account is refused at once, before any password check (admin/signin.py): a flood without the
  authenticator costs neither the hash nor anyone's turn. The others take turns: one password check per
  second per email and lane, however many arrive at once (in the order they came); one whose turn is more
  than ten seconds away is refused at once. Attempts with a right code have a lane of their own, so the
  owner is checked within a second however many code-less attempts queue. Each address's own limit
  (20 attempts in 15 minutes) still holds. More than three attempts at one email under way at once are judged
  the same way before their failures are counted.
- Counters are keyed by a digest of the email as typed (trimmed, lower case), whether an account has it or
  not: an unknown email is counted, refused and slowed exactly like a real one.

With Redis away nothing can be counted: sign-in goes on (the per-address limit fails open the same way,
and the password and a single-use TOTP code are still both needed), and a warning is logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
MAX_FAILURES = 5  # for one email from one address within WINDOW_SECONDS: that pair is refused
WINDOW_SECONDS = 900
SLOW_AFTER = 20  # failures for one email from every address within WINDOW_SECONDS: its attempts are slowed
SLOW_SECONDS = 1.0  # a slowed email's attempts are checked one per SLOW_SECONDS
MAX_TURN_WAIT = 10.0  # a slowed attempt whose turn is further away than this is refused
CHECKS_AT_ONCE = 3  # attempts at one email under way at once, past which it is judged as slowed (`checking`)
CHECKING_TTL = 60
# The next free turn for an email, in Redis's own clock (ms), so every web process shares one queue.
TURN_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local turn = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0')) + tonumber(ARGV[1])
if turn - now > tonumber(ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], turn, 'PX', turn - now + 1000)
return turn - now
"""


@dataclass(frozen=True)
class Standing:
    locked: bool  # this email failed too often from this address: refused without a look at the password
    slowed: bool  # this email fails from everywhere: a wrong code is refused at once, others wait a turn


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


class Lane(StrEnum):
    """A slowed email's queues: attempts with no code (a first sign-in, before an authenticator is enrolled) and
    those whose code is right (which only the authenticator's holder sends)."""

    NO_CODE = "no-code"
    RIGHT_CODE = "right-code"


async def wait_turn(redis: Redis, email: str, lane: Lane) -> bool:
    """Wait for this attempt's turn at a slowed email (SLOW_SECONDS after the one before it in its lane); False,
    at once, if that is more than MAX_TURN_WAIT away. Parallel attempts thus add up instead of sleeping
    together. Keyed like the counters, so an unknown email queues exactly like a real one."""
    digest = keys(email, None)[1].rsplit(":", 1)[1]
    try:
        wait_ms = int(await redis.eval(TURN_SCRIPT, 1, f"admin-signin-turn:{digest}:{lane}",
                                       int(SLOW_SECONDS * 1000), int(MAX_TURN_WAIT * 1000)))
    except RedisError as exc:
        log.warning("sign-in turn not taken, Redis is unavailable: %r", exc)
        wait_ms = int(SLOW_SECONDS * 1000)
    if wait_ms < 0:
        return False
    await asyncio.sleep(wait_ms / 1000)
    return True


@asynccontextmanager
async def checking(redis: Redis, email: str) -> AsyncIterator[bool]:
    """Hold one of the email's attempts under way; True while no more than CHECKS_AT_ONCE are. More at once is a
    flood that its failures have not slowed yet (they are counted after their password checks): the attempt is
    judged as at a slowed email, so a burst cannot pile up password checks ahead of the owner's."""
    name = f"admin-signin-checking:{keys(email, None)[1].rsplit(':', 1)[1]}"
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, CHECKING_TTL)  # a process that died mid-check leaves its count for this long at most
            under_way, _ = await pipe.execute()
    except RedisError as exc:
        log.warning("sign-in attempt not counted, Redis is unavailable: %r", exc)
        yield True
        return
    try:
        yield int(under_way) <= CHECKS_AT_ONCE
    finally:
        try:
            await redis.decr(name)
        except RedisError as exc:
            log.warning("sign-in attempt not uncounted, Redis is unavailable: %r", exc)


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
