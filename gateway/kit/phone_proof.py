"""A number proven by a one-time code: the code is texted, kept as a digest in Redis for ten minutes and five
tries, and a right answer gives a proof (a short-lived JWT naming the number and what it was proven for).

Codes are limited per number (a minute between two, five an hour), per address and per day, each count kept apart
for each purpose (an entry, a payout wallet): asking entry codes for an organiser's wallet number, or spending a
contest's codes, leaves payout codes as they were. The day's budget is a scope's own (a contest's, for entries),
so whoever spends one contest's codes stops no other. The proof's key is derived from SECRET_KEY, as the admin
tokens' is."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta

import jwt
from redis.asyncio import Redis

from gateway.core.errors import DomainError, RateLimited
from gateway.kit.throttle import count, forget_once, hit, once_per, unhit

CODE_SECONDS = 600
TRIES = 5
PROOF_TTL = timedelta(hours=2)  # long enough to fill a form and upload a clip on a slow link
ALGORITHM = "HS256"
NUMBER_WAIT_SECONDS, PER_NUMBER_HOUR, PER_ADDRESS_HOUR = 60, 5, 30
DAY = 86400


class WrongCode(DomainError):
    status = 422
    code = "wrong_code"


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"ballot-phone-proof-v1", hashlib.sha256).digest()


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def day_key(purpose: str, scope: str) -> str:
    return f"otp-day:{purpose}:{scope}"


async def new_code(redis: Redis, msisdn: str, purpose: str, address: str, *, per_day: int,
                   scope: str = "all", now: float | None = None) -> str:
    """A fresh six-digit code for `msisdn` (the caller texts it), or RateLimited. `scope` names the day's budget
    the code is counted against (of `per_day` codes): "contest:12" for a contest's entries. `now` places the counts
    by hour and day (a test's clock); the minute between two codes is Redis's own."""
    waited = f"otp-number:{purpose}:{msisdn}"
    if not await once_per(redis, waited, NUMBER_WAIT_SECONDS, if_unavailable=False):
        raise RateLimited("Too many codes asked for; wait a minute and try again.")
    limits = ((f"otp-number-hour:{purpose}:{msisdn}", PER_NUMBER_HOUR, 3600),
              (f"otp-address:{purpose}:{address}", PER_ADDRESS_HOUR, 3600), (day_key(purpose, scope), per_day, DAY))
    now = time.time() if now is None else now
    for passed, (key, limit, window) in enumerate(limits):
        if not await hit(redis, key, limit, window, now, if_unavailable=False):
            for earlier, _, earlier_window in limits[:passed]:  # a refused code spends no other limit
                await unhit(redis, earlier, earlier_window, now)
            await forget_once(redis, waited)
            raise RateLimited("Too many codes asked for; wait a minute and try again.")
    code = f"{secrets.randbelow(1_000_000):06d}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(f"otp:{purpose}:{msisdn}", _digest(code), ex=CODE_SECONDS)
        pipe.delete(f"otp-tries:{purpose}:{msisdn}")
        await pipe.execute()
    return code


async def spent_today(redis: Redis, purpose: str, scope: str) -> int:
    """How many codes of the day's budget `scope` has asked for (refused ones included: they cost the asker)."""
    return await count(redis, day_key(purpose, scope), DAY)


async def prove(redis: Redis, secret_key: str, msisdn: str, purpose: str, code: str, now: datetime) -> str:
    """The proof for a right code (used once); WrongCode otherwise, and a code tried five times is spent."""
    name, tries = f"otp:{purpose}:{msisdn}", f"otp-tries:{purpose}:{msisdn}"
    kept = await redis.get(name)
    if kept is None:
        raise WrongCode("This code has expired or was never sent; ask for a new one.", field="code")
    if await redis.incr(tries) > TRIES:
        await redis.delete(name)
        raise WrongCode("Too many wrong codes; ask for a new one.", field="code")
    await redis.expire(tries, CODE_SECONDS)
    if not hmac.compare_digest(kept.decode() if isinstance(kept, bytes) else str(kept), _digest(code.strip())):
        raise WrongCode("That is not the code we sent.", field="code")
    if not await redis.delete(name):  # two right answers at once: one proof
        raise WrongCode("This code was used already; ask for a new one.", field="code")
    claims = {"sub": msisdn, "aud": f"ballot-phone:{purpose}", "iat": now, "exp": now + PROOF_TTL}
    return jwt.encode(claims, _key(secret_key), algorithm=ALGORITHM)


def proven_number(secret_key: str, proof: str, purpose: str, now: datetime) -> str | None:
    """The number a proof names, if it is ours, for this purpose and unexpired."""
    try:
        claims = jwt.decode(proof, _key(secret_key), algorithms=[ALGORITHM], audience=f"ballot-phone:{purpose}",
                            options={"require": ["exp", "sub"]}, leeway=0)
    except jwt.PyJWTError:
        return None
    if datetime.fromtimestamp(claims["exp"], tz=now.tzinfo) <= now:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None
