"""OAuth client-credentials tokens for Orange's APIs, cached and fetched once for all callers."""

from __future__ import annotations

import asyncio
import time

import httpx

from payments.answers import json_object
from payments.base import PaymentError

MARGIN_SECONDS = 60


class ClientCredentialsToken:
    def __init__(self, http: httpx.AsyncClient, provider: str, token_url: str, client_id: str,
                 client_secret: str) -> None:
        self._http = http
        self._provider = provider
        self._url = token_url
        self._auth = (client_id, client_secret)
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self, stale: str | None = None) -> str:
        """A valid token; pass the one a 401 came back for to force a new one (once for all callers)."""
        async with self._lock:
            if self._token is None or self._token == stale or time.monotonic() >= self._expires:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        try:
            response = await self._http.post(self._url, auth=self._auth, data={"grant_type": "client_credentials"},
                                             headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise PaymentError(self._provider, "unreachable", f"token endpoint did not answer: {exc!r}",
                               retryable=True) from exc
        if response.status_code != 200:
            raise PaymentError(self._provider, "login_failed",
                               f"Orange refused our API credentials ({response.status_code}).",
                               status=response.status_code, retryable=response.status_code >= 500)
        data = json_object(self._provider, response)
        if not data.get("access_token"):
            raise PaymentError(self._provider, "unreadable_answer", "The token answer holds no access_token.",
                               retryable=True, status=response.status_code)
        self._token = str(data["access_token"])
        # WebPay sends expires_in as a string ("7776000"), the Cameroon API as a number.
        try:
            lifetime = int(float(data.get("expires_in", 3600)))
        except (TypeError, ValueError, OverflowError):
            lifetime = 3600
        self._expires = time.monotonic() + max(0, lifetime - MARGIN_SECONDS)
