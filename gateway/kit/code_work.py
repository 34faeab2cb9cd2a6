"""What asking for a texted code costs the asker before it costs the platform: a proof of work.

The service hands out a challenge (a random salt, when it was issued, how hard it is, all signed with a key
derived from SECRET_KEY and bound to what it is for: entry codes of one contest). The asker finds a nonce such
that SHA-256("<salt>:<nonce>") starts with that many zero bits (2^bits hashes on average: about a second of a
phone's browser at 18 bits) and sends the challenge and the nonce with the code request. A challenge is good for
ten minutes and for one request: Redis remembers the spent ones until they would have expired anyway.

So a script that wants a thousand codes pays a thousand puzzles first, one after another per core, and the
puzzles get harder as a contest's day's budget runs low; the check costs the service one hash and one HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from gateway.core.errors import DomainError

CHALLENGE_SECONDS = 600
SALT_BYTES = 12  # 16 characters: "<salt>:<nonce>" stays in one SHA-256 block, the browser's loop hashes one each
NONCE = re.compile(r"[0-9]{1,15}")
TOKEN = re.compile(r"(?P<issued>[0-9]{1,12})\.(?P<bits>[0-9]{1,2})\.(?P<salt>[A-Za-z0-9_-]{16})"
                   r"\.(?P<mac>[A-Za-z0-9_-]{43})")
EXTRA_BITS = 2  # at most this many more than the base, as a day's budget runs low


class WorkRefused(DomainError):
    """No work, or not the work asked for: nothing is counted, nobody is texted."""

    status = 403
    code = "challenge_invalid"


@dataclass(frozen=True)
class Challenge:
    token: str  # sent back as is, with the nonce
    salt: str  # what is hashed: SHA-256(salt + ":" + nonce)
    bits: int
    expires_at: int  # seconds since the epoch


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"ballot-code-work-v1", hashlib.sha256).digest()


def _mac(secret_key: str, bound_to: str, issued: int, bits: int, salt: str) -> str:
    signed = f"{bound_to}|{issued}|{bits}|{salt}".encode()
    return base64.urlsafe_b64encode(hmac.new(_key(secret_key), signed, hashlib.sha256).digest()).decode().rstrip("=")


def bits_for(base: int, spent: int, per_day: int) -> int:
    """The base, one more once half of the day's budget is spent, two more from three quarters: spending what
    is left costs more the less there is, and an ordinary day never sees it."""
    return base + (spent * 2 >= per_day) + (spent * 4 >= per_day * 3) if per_day > 0 else base + EXTRA_BITS


def issue(secret_key: str, bound_to: str, bits: int, now: datetime) -> Challenge:
    """A fresh challenge for requests bound to `bound_to` ("entry:<contest slug>")."""
    issued = int(now.timestamp())
    salt = base64.urlsafe_b64encode(secrets.token_bytes(SALT_BYTES)).decode()
    token = f"{issued}.{bits}.{salt}.{_mac(secret_key, bound_to, issued, bits, salt)}"
    return Challenge(token, salt, bits, issued + CHALLENGE_SECONDS)


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solves(salt: str, nonce: str, bits: int) -> bool:
    return leading_zero_bits(hashlib.sha256(f"{salt}:{nonce}".encode()).digest()) >= bits


def check(secret_key: str, bound_to: str, token: str | None, nonce: str | None, least_bits: int,
          now: datetime) -> tuple[str, int]:
    """The challenge's salt and the seconds it has left, if `nonce` solves a challenge of ours for `bound_to`, of
    at least `least_bits`, unexpired; WorkRefused saying why otherwise."""
    if not token or not nonce:
        raise WorkRefused("Ask for a challenge first (GET …/entries/challenge), solve it and send challenge and "
                          "nonce with the request.", code="challenge_required", field="challenge")
    found = TOKEN.fullmatch(token)
    if found is None or NONCE.fullmatch(nonce) is None:
        raise WorkRefused("This is not a challenge of ours, or the nonce is not digits.", field="challenge")
    issued, bits, salt = int(found["issued"]), int(found["bits"]), found["salt"]
    if not hmac.compare_digest(found["mac"], _mac(secret_key, bound_to, issued, bits, salt)):
        raise WorkRefused("This challenge is not for this contest's codes (or not ours).", field="challenge")
    left = issued + CHALLENGE_SECONDS - int(now.timestamp())
    if left <= 0:
        raise WorkRefused("This challenge has expired; ask for a new one.", code="challenge_expired",
                          field="challenge")
    if bits < least_bits or not solves(salt, nonce, bits):
        raise WorkRefused("The nonce does not solve the challenge.", field="nonce")
    return salt, left


async def spend(redis: Redis, salt: str, seconds_left: int) -> None:
    """Each challenge buys one request: a second one with it is refused (kept until it would have expired)."""
    if not await redis.set(f"code-work-spent:{salt}", b"1", nx=True, ex=seconds_left + 1):
        raise WorkRefused("This challenge was used already; ask for a new one.", code="challenge_spent",
                          field="challenge")
