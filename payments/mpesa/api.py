"""Daraja's requests: an OAuth token by client credentials (`GET /oauth/v1/generate`, Basic auth), then JSON POSTs
with it, each on the app's paced turn (`payments.mpesa.request_cap`). A request is sent once: an STK Push has no
reference of ours Daraja would recognise, so a resend could put a second prompt on the phone; the caller decides
what is safe to repeat. Errors come back as {"requestId", "errorCode", "errorMessage"}."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from gateway.core.providers import PaymentError
from payments.answers import json_object, json_object_or_empty
from payments.mpesa.request_cap import NAME
from payments.paced_requests import PacedRequests
from payments.token_cache import IssuedToken, TokenCache

EAST_AFRICA = timezone(timedelta(hours=3), "EAT")  # Daraja's timestamps are Nairobi's time


@dataclass(frozen=True)
class DarajaCredentials:
    base_url: str
    consumer_key: str
    consumer_secret: str


def timestamp(now: datetime | None = None) -> str:
    """YYYYMMDDHHmmss in Nairobi's time, as the STK Push password and its query take it."""
    return (now or datetime.now(EAST_AFRICA)).astimezone(EAST_AFRICA).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, when: str) -> str:
    """base64(shortcode + passkey + timestamp): what signs an STK Push and its query."""
    return base64.b64encode(f"{shortcode}{passkey}{when}".encode()).decode()


class DarajaApi:
    """One Daraja app: its token, and POSTs sent with it."""

    def __init__(self, requests: PacedRequests, credentials: DarajaCredentials) -> None:
        self._requests = requests
        self._credentials = credentials
        self._tokens = TokenCache(self._fetch_token)

    async def ready(self) -> None:
        """The app's token fetched (or kept) now: a request sent next goes out on it, or is refused whole."""
        await self._tokens.get(None)

    async def post(self, path: str, body: Mapping[str, Any], *, enquiry: bool = False) -> httpx.Response:
        """POST with the app's token (a 401 fetches a new one, once); raises a retryable PaymentError when the
        answer was lost (whether Daraja acted on it is unknown). `enquiry`: a status query, on the enquiries' share
        of the app's turns (`payments.paced_requests`)."""
        stale: str | None = None
        url = self._credentials.base_url.rstrip("/") + path
        for _ in range(2):
            token = await self._tokens.get(stale)
            try:
                response = await self._requests.request("POST", url, json=dict(body), enquiry=enquiry,
                                                        headers={"Authorization": f"Bearer {token}"})
            except httpx.ConnectError as exc:  # no connection: nothing reached Daraja
                raise PaymentError(NAME, NOT_SENT, f"Daraja could not be reached: {exc!r}", retryable=True) from exc
            except httpx.TransportError as exc:
                raise PaymentError(NAME, "unreachable", f"Daraja did not answer: {exc!r}", retryable=True) from exc
            if response.status_code != 401:
                return response
            stale = token
        return response

    async def _fetch_token(self) -> IssuedToken:
        url = self._credentials.base_url.rstrip("/") + "/oauth/v1/generate"
        try:
            response = await self._requests.request(
                "GET", url, params={"grant_type": "client_credentials"},
                auth=(self._credentials.consumer_key, self._credentials.consumer_secret))
        except httpx.TransportError as exc:
            raise PaymentError(NAME, "unreachable", f"Daraja's token endpoint did not answer: {exc!r}",
                               retryable=True) from exc
        if response.status_code != 200:
            raise PaymentError(NAME, "login_failed", f"Daraja refused our app's credentials ({response.status_code}).",
                               status=response.status_code, retryable=response.status_code >= 500)
        data = json_object(NAME, response)
        if not data.get("access_token"):
            raise PaymentError(NAME, "unreadable_answer", "Daraja's token answer holds no access_token.",
                               retryable=True, status=response.status_code)
        return IssuedToken(str(data["access_token"]), data.get("expires_in"))  # "3599", a string


def error_code(response: httpx.Response) -> str:
    """Daraja's errorCode ("500.001.1001", "400.002.02"), or http_<status> when the body says none."""
    return str(json_object_or_empty(response).get("errorCode") or f"http_{response.status_code}")


# The code of a request that never left (no connection): Daraja has nothing of it, whatever it was.
NOT_SENT = "not_sent"


def error_of(response: httpx.Response) -> PaymentError:
    data = json_object_or_empty(response)
    message = str(data.get("errorMessage") or data.get("ResponseDescription") or response.reason_phrase
                  or "Daraja refused the request")
    return PaymentError(NAME, error_code(response), message, retryable=response.status_code >= 500,
                        status=response.status_code)
