"""Access tokens (JWT, HS256, 15 minutes) and refresh tokens (random, 7 days, stored as SHA-256).

The JWT key is derived from SECRET_KEY, so no second secret must be set, and a leaked admin token
key tells nothing of the key that signs other things (CSRF cookies)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=7)
ALGORITHM = "HS256"
AUDIENCE = "ballot-admin"


def signing_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"ballot-admin-jwt-v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class AccessClaims:
    admin_id: int
    role: str
    version: int  # the account's token_version when issued
    family: uuid.UUID  # the refresh family (the signed-in session) it belongs to
    expires_at: datetime | None = None  # read from a decoded token (what a long-lived stream must not outlive)


class InvalidToken(Exception):
    """Missing, malformed, expired or forged: the caller must sign in (or refresh) again."""


def encode_access(key: bytes, claims: AccessClaims, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    payload = {"sub": str(claims.admin_id), "role": claims.role, "ver": claims.version, "fam": str(claims.family),
               "aud": AUDIENCE, "iat": int(now.timestamp()), "exp": int((now + ACCESS_TTL).timestamp())}
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def decode_access(key: bytes, token: str) -> AccessClaims:
    try:
        payload = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE,
                             options={"require": ["exp", "sub", "aud"]})
        return AccessClaims(int(payload["sub"]), str(payload["role"]), int(payload["ver"]),
                            uuid.UUID(str(payload["fam"])), datetime.fromtimestamp(int(payload["exp"]), UTC))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


ENROL_AUDIENCE = "ballot-admin-enrol"
ENROL_TTL = timedelta(minutes=10)


def encode_enrol_ticket(key: bytes, admin_id: int, now: datetime | None = None) -> str:
    """What the enrolment form carries between a right password and the first TOTP code."""
    now = now or datetime.now(UTC)
    return jwt.encode({"sub": str(admin_id), "aud": ENROL_AUDIENCE, "exp": int((now + ENROL_TTL).timestamp())},
                      key, algorithm=ALGORITHM)


def decode_enrol_ticket(key: bytes, ticket: str) -> int:
    try:
        return int(jwt.decode(ticket, key, algorithms=[ALGORITHM], audience=ENROL_AUDIENCE)["sub"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc
