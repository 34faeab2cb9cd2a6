"""What every MTN MoMo product (Collection, Disbursement) shares: one product's credentials, its OAuth token, and
requests sent with it, retried after time-outs, 5xx and 429 with the same headers (so the same X-Reference-Id:
MTN answers 409 to a reference it has, and nothing is done twice)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from gateway.core.money import from_major
from gateway.core.providers import BalanceInOtherCurrency, PaymentError
from payments.answers import json_object, json_object_or_empty
from payments.token_cache import IssuedToken, TokenCache

NAME = "mtn"
RETRY_DELAYS = (0.5, 1.5, 4.0)  # time-outs and 5xx: sent again with the same X-Reference-Id
TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class MtnCredentials:
    """One product's subscription: MTN gives each product (Collection, Disbursement) its own key and API user."""

    base_url: str
    subscription_key: str
    api_user: str
    api_key: str
    target_environment: str


class MtnApi:
    """Requests to one MTN product (`collection`, `disbursement`) with its token."""

    def __init__(self, http: httpx.AsyncClient, credentials: MtnCredentials, product: str,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._http = http
        self.credentials = credentials
        self.product = product
        self._retry_delays = retry_delays
        self._tokens = TokenCache(self._fetch_token)

    async def send(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                   json: Mapping[str, object] | None = None, resend_rate_limited: bool = True) -> httpx.Response:
        """Send with auth; retry time-outs, 5xx and 429 (same headers, so the same reference)."""
        last_error: Exception | None = None
        for delay in (0.0, *self._retry_delays):
            if delay:
                await asyncio.sleep(delay)
            try:
                response = await self._authorised(method, path, headers, json)
            except httpx.TransportError as exc:
                last_error = exc
                continue
            except PaymentError as exc:  # from the token endpoint
                if not exc.retryable:
                    raise
                last_error = exc
                continue
            if response.status_code < 500 and (response.status_code != TOO_MANY_REQUESTS or not resend_rate_limited):
                return response
            last_error = error_of(response)
        if isinstance(last_error, PaymentError):
            raise last_error
        raise PaymentError(NAME, "unreachable", f"MTN did not answer: {last_error!r}", retryable=True)

    async def _authorised(self, method: str, path: str, headers: dict[str, str] | None,
                          json: Mapping[str, object] | None) -> httpx.Response:
        stale: str | None = None
        for _ in range(2):
            token = await self._tokens.get(stale)
            all_headers = {**self._common_headers(), "Authorization": f"Bearer {token}", **(headers or {})}
            response = await self._http.request(method, self.credentials.base_url.rstrip("/") + path,
                                                headers=all_headers, json=json)
            if response.status_code != 401:
                return response
            stale = token  # refreshed once: MTN may revoke a token before its stated expiry
        return response

    def _common_headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.credentials.subscription_key,
                "X-Target-Environment": self.credentials.target_environment}

    async def _fetch_token(self) -> IssuedToken:
        try:
            response = await self._http.post(
                self.credentials.base_url.rstrip("/") + f"/{self.product}/token/",
                auth=(self.credentials.api_user, self.credentials.api_key),
                headers={"Ocp-Apim-Subscription-Key": self.credentials.subscription_key},
            )
        except httpx.TransportError as exc:
            raise PaymentError(NAME, "unreachable", f"MTN token endpoint did not answer: {exc!r}",
                               retryable=True) from exc
        if response.status_code != 200:
            # Bad credentials come back as 500 {"error": "login_failed"}: not worth retrying. Other 5xx are.
            error = error_of(response)
            if error.code == "login_failed" or (response.status_code < 500 and not error.retryable):
                raise PaymentError(NAME, "login_failed",
                                   f"MTN refused our API credentials ({response.status_code}).",
                                   status=response.status_code)
            raise error
        data = json_object(NAME, response)
        if not data.get("access_token"):
            raise PaymentError(NAME, "unreadable_answer", "MTN's token answer holds no access_token.", retryable=True,
                               status=response.status_code)
        return IssuedToken(str(data["access_token"]), data.get("expires_in"))


def error_of(response: httpx.Response) -> PaymentError:
    data = json_object_or_empty(response)
    code = str(data.get("code") or data.get("error") or f"http_{response.status_code}")
    message = str(data.get("message") or response.reason_phrase or "MTN refused the request")
    return PaymentError(NAME, code, message,
                        retryable=response.status_code >= 500 or response.status_code == TOO_MANY_REQUESTS,
                        status=response.status_code)


async def account_balance(api: MtnApi, currency: str) -> int:
    """What the product's account holds (`GET /{product}/v1_0/account/balance`), in minor units."""
    response = await api.send("GET", f"/{api.product}/v1_0/account/balance?currency={currency}")
    if response.status_code != 200:
        raise error_of(response)
    data = json_object(NAME, response)
    answered = str(data.get("currency") or currency).upper()
    if answered != currency.upper():  # an account holds one currency: its figure is no balance in the one asked
        raise BalanceInOtherCurrency(NAME, currency.upper(), answered)
    try:
        return from_major(str(data["availableBalance"]), answered)
    except (KeyError, ValueError) as exc:
        raise PaymentError(NAME, "unreadable_answer", "MTN's balance answer is unreadable.") from exc
