"""OAuth client-credentials tokens for Orange's APIs, cached and fetched once for all callers; a token request
takes its turn under the application's cap as any other (`payments.paced_requests`)."""

from __future__ import annotations

import httpx

from gateway.core.providers import PaymentError
from payments.answers import json_object
from payments.paced_requests import PacedRequests
from payments.token_cache import IssuedToken, TokenCache


class ClientCredentialsToken:
    def __init__(self, requests: PacedRequests, provider: str, token_url: str, client_id: str,
                 client_secret: str) -> None:
        self._requests = requests
        self._provider = provider
        self._url = token_url
        self._auth = (client_id, client_secret)
        self._cache = TokenCache(self._fetch)

    async def get(self, stale: str | None = None) -> str:
        """A valid token; pass the one a 401 came back for to force a new one (once for all callers)."""
        return await self._cache.get(stale)

    async def _fetch(self) -> IssuedToken:
        try:
            response = await self._requests.request("POST", self._url, auth=self._auth,
                                                    data={"grant_type": "client_credentials"},
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
        # WebPay sends expires_in as a string ("7776000"), the Cameroon API as a number.
        return IssuedToken(str(data["access_token"]), data.get("expires_in"))
