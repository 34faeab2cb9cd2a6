"""Requests to one Airtel Africa Open API application: its OAuth2 token (client credentials, a JSON body), each
request on a turn of the application's paced schedule, and the country and currency headers every call carries.

Airtel publishes no cap for its gateway, so every request of one application (client id) takes a turn of one schedule
that every process and host shares (`payments.paced_requests`), at 90% of the setting, status enquiries at most half
its turns (a flood of them never holds a payer's prompt, a refund or a payout back); a 429 that still comes back is
sent again after a wait on a turn of its own, and one refused on every try is "slow down" (`ProviderRateLimited`),
never a refusal of the payment. Time-outs and 5xx are sent again only where the caller says that is safe: a push
resent after a lost answer could prompt the payer twice, so its caller asks about it first."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.core.providers import PaymentError, ProviderRateLimited
from gateway.kit.paced_turns import PacedTurns
from payments.airtel.codes import NAME
from payments.answers import json_object, json_object_or_empty
from payments.paced_requests import PacedRequests, RequestCap
from payments.token_cache import IssuedToken, TokenCache

REQUESTS_PER_SECOND = 10.0
RETRY_DELAYS = (0.5, 1.5, 4.0)
TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class AirtelCredentials:
    base_url: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Wallet:
    """Where a call is about: Airtel routes each by its X-Country and X-Currency headers."""

    country: str
    currency: str


def error_of(response: httpx.Response) -> PaymentError:
    """A refusal as Airtel writes it (`status.response_code`, `status.message`), or the HTTP status."""
    data = json_object_or_empty(response)
    block = data.get("status")
    status: dict[str, Any] = block if isinstance(block, dict) else {}
    code = str(status.get("response_code") or status.get("result_code") or data.get("error")
               or f"http_{response.status_code}")
    message = str(status.get("message") or data.get("error_description") or response.reason_phrase
                  or "Airtel refused the request")
    retryable = response.status_code >= 500 or response.status_code == TOO_MANY_REQUESTS
    if response.status_code == TOO_MANY_REQUESTS:
        return ProviderRateLimited(NAME, "rate_limited", message, retryable=True, status=TOO_MANY_REQUESTS)
    return PaymentError(NAME, code, message, retryable=retryable, status=response.status_code)


AIRTEL_CAP = RequestCap.by_status(NAME, TOO_MANY_REQUESTS, "Airtel refused a request over the application's rate "
                                  "(429).")  # `AirtelApi.send` resends a 429 itself: PacedRequests only paces


class AirtelApi:
    """One application's requests (`per_second`: its cap, None or 0 lifts it)."""

    def __init__(self, http: httpx.AsyncClient, credentials: AirtelCredentials, *, turns: PacedTurns | None = None,
                 per_second: float | None = REQUESTS_PER_SECOND,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self.credentials = credentials
        # Sent once a turn: `send` resends 429s, time-outs and 5xx on its own terms.
        self._requests = PacedRequests(http, credentials.client_id, AIRTEL_CAP, turns=turns, per_second=per_second,
                                       resend_delays=())
        self._retry_delays = retry_delays
        self._tokens = TokenCache(self._fetch_token)

    async def send(self, method: str, path: str, wallet: Wallet, *, json: Mapping[str, Any] | None = None,
                   resend_lost: bool = True, enquiry: bool = False) -> httpx.Response:
        """Send with the token and the wallet's headers; 429 is sent again later, time-outs and 5xx too unless
        `resend_lost` is False (then the first one raises, retryable). Any other answer is returned. `enquiry`: a
        status enquiry, on the enquiries' share of the application's turns."""
        last: PaymentError | None = None
        for delay in (0.0, *self._retry_delays):
            if delay:
                await asyncio.sleep(delay)
            try:
                response = await self._authorised(method, path, wallet, json, enquiry)
            except httpx.TransportError as exc:
                last = PaymentError(NAME, "unreachable", f"Airtel did not answer: {exc!r}", retryable=True)
            except PaymentError as exc:  # from the token endpoint
                if not exc.retryable:
                    raise
                last = exc
            else:
                if response.status_code < 500 and response.status_code != TOO_MANY_REQUESTS:
                    return response
                last = error_of(response)
            if not resend_lost and not isinstance(last, ProviderRateLimited):
                raise last
        assert last is not None
        raise last

    async def _authorised(self, method: str, path: str, wallet: Wallet, json: Mapping[str, Any] | None,
                          enquiry: bool) -> httpx.Response:
        stale: str | None = None
        for _ in range(2):
            token = await self._tokens.get(stale)
            headers = {"Authorization": f"Bearer {token}", "Accept": "*/*", "X-Country": wallet.country,
                       "X-Currency": wallet.currency}
            response = await self._requests.send_once(method, self._url(path), enquiry=enquiry, headers=headers,
                                                      json=json)
            if response.status_code != 401:
                return response
            stale = token  # refreshed once: a token may be revoked before its stated expiry
        return response

    def _url(self, path: str) -> str:
        return self.credentials.base_url.rstrip("/") + path

    async def _fetch_token(self) -> IssuedToken:
        body = {"client_id": self.credentials.client_id, "client_secret": self.credentials.client_secret,
                "grant_type": "client_credentials"}
        try:
            response = await self._requests.send_once("POST", self._url("/auth/oauth2/token"), json=body,
                                         headers={"Accept": "*/*"})
        except httpx.TransportError as exc:
            raise PaymentError(NAME, "unreachable", f"Airtel's token endpoint did not answer: {exc!r}",
                               retryable=True) from exc
        if response.status_code != 200:
            if response.status_code >= 500 or response.status_code == TOO_MANY_REQUESTS:
                raise error_of(response)
            raise PaymentError(NAME, "login_failed", f"Airtel refused our API credentials ({response.status_code}).",
                               status=response.status_code)
        data = json_object(NAME, response)
        if not data.get("access_token"):
            raise PaymentError(NAME, "unreadable_answer", "Airtel's token answer holds no access_token.",
                               retryable=True, status=response.status_code)
        return IssuedToken(str(data["access_token"]), data.get("expires_in"))  # "180": a string, in its examples
