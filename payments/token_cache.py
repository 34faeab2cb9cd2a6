"""OAuth access tokens for the providers that need one (MTN, Orange): fetched once for all concurrent
callers, kept until shortly before the provider says they expire."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MARGIN_SECONDS = 60.0  # refresh this long before the provider says the token expires
DEFAULT_LIFETIME = 3600.0  # an answer that does not say: MTN's and Orange's tokens last an hour or more


@dataclass(frozen=True)
class IssuedToken:
    """A token endpoint's answer: the token, and `expires_in` as the provider sent it."""

    access_token: str
    expires_in: object = None


def lifetime_seconds(expires_in: object) -> float:
    """Seconds a token lasts: 3600, 3600.0 and "3600" alike (Orange WebPay sends a string); absent or
    unreadable, DEFAULT_LIFETIME (a 401 still forces a new token early)."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
        return DEFAULT_LIFETIME
    try:
        seconds = float(expires_in)
    except ValueError:
        return DEFAULT_LIFETIME
    return max(0.0, seconds) if math.isfinite(seconds) else DEFAULT_LIFETIME


class TokenCache:
    """The current token of one set of credentials. `fetch` asks the provider for a new one and raises
    the provider's own error when it cannot."""

    def __init__(self, fetch: Callable[[], Awaitable[IssuedToken]], *, margin: float = MARGIN_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._margin = margin
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self, stale: str | None = None) -> str:
        """A valid token, fetched once for all callers waiting when it is missing, about to expire, or
        `stale` (the one a 401 came back for: a provider may revoke a token before its stated expiry)."""
        async with self._lock:
            if self._token is None or self._token == stale or self._clock() >= self._expires:
                issued = await self._fetch()
                self._token = issued.access_token
                self._expires = self._clock() + max(0.0, lifetime_seconds(issued.expires_in) - self._margin)
            return self._token
