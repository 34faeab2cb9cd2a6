"""The sandboxes' access tokens and credentials, as MTN's and Orange's gateways check them: only a token the
sandbox issued and that has not expired passes (a fake or stale one answers 401), and Basic credentials only when
both halves are there."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum

from payments.sandbox.control import new_token


class TokenCheck(StrEnum):
    VALID = "valid"
    MISSING = "missing"
    UNKNOWN = "unknown"
    EXPIRED = "expired"


@dataclass
class TokenStore:
    """Issued access tokens, so that only real, unexpired tokens pass: a fake or stale one answers 401."""

    tokens: dict[str, tuple[float, int]] = field(default_factory=dict)  # token -> (expires_at, generation)

    def issue(self, now: float, lifetime: float, generation: int) -> str:
        token = new_token(32)
        self.tokens[token] = (now + lifetime, generation)
        return token

    def check(self, token: str | None, now: float, generation: int) -> TokenCheck:
        if not token:
            return TokenCheck.MISSING
        entry = self.tokens.get(token)
        if entry is None:
            return TokenCheck.UNKNOWN
        expires_at, issued_in = entry
        if now >= expires_at or issued_in < generation:
            return TokenCheck.EXPIRED
        return TokenCheck.VALID


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, secret) of an `Authorization: Basic …` header when both are non-empty, else None."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    return user_and_secret(encoded.strip())


def user_and_secret(encoded: str) -> tuple[str, str] | None:
    """Decode base64 `user:secret` (a Basic header's payload, or Orange's X-AUTH-TOKEN)."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, secret = decoded.partition(":")
    return (user, secret) if sep and user and secret else None
