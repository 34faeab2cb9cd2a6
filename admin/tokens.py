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


@dataclass(frozen=True)
class EnrolTicket:
    """What the enrolment form carries between a right password and the first TOTP code. It holds for
    one account state only: the token_version (a password change cancels it) and a digest of the pending
    secret (once a first code confirms it, or it is replaced, the ticket is spent); its exp is fixed
    when the password was right, so a wrong code never extends it."""

    admin_id: int
    version: int
    secret_digest: str
    expires_at: int  # Unix seconds


def secret_digest(key: bytes, secret: str) -> str:
    """Names the pending secret in a readable ticket without giving it away."""
    return hmac.new(key, b"enrol-secret:" + secret.encode(), hashlib.sha256).hexdigest()


def enrol_ticket_for(key: bytes, admin_id: int, version: int, secret: str, now: datetime | None = None
                     ) -> EnrolTicket:
    now = now or datetime.now(UTC)
    return EnrolTicket(admin_id, version, secret_digest(key, secret), int((now + ENROL_TTL).timestamp()))


def encode_enrol_ticket(key: bytes, ticket: EnrolTicket) -> str:
    return jwt.encode({"sub": str(ticket.admin_id), "ver": ticket.version, "sec": ticket.secret_digest,
                       "aud": ENROL_AUDIENCE, "exp": ticket.expires_at}, key, algorithm=ALGORITHM)


def decode_enrol_ticket(key: bytes, ticket: str) -> EnrolTicket:
    try:
        payload = jwt.decode(ticket, key, algorithms=[ALGORITHM], audience=ENROL_AUDIENCE,
                             options={"require": ["exp", "sub", "aud", "ver", "sec"]})
        return EnrolTicket(int(payload["sub"]), int(payload["ver"]), str(payload["sec"]), int(payload["exp"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
