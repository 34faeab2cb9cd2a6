"""MTN MoMo Collection: request-to-pay with our reference, status by GET, unsigned callbacks.

MTN's callback is not signed, but it comes on the URL we gave for the order, which carries a secret
(`payments.mtn.callback_secret`). A callback with that secret saying SUCCESSFUL for our reference, the
order's amount and currency counts at once, and is verified by a status GET later. Anything else
on that URL (no amount, another amount, FAILED) asks for a status GET, as every callback did before;
so do callbacks for orders placed before the secret (their URL has none). A wrong or missing secret
for an order whose URL has one is refused: it counts nothing and costs no status call. Which URL an
order got is kept with its start (`provider_data`); a start cut short before that was kept is taken
for an order of before (a callback without a secret asks for a status GET: slower, never wrong).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx

from gateway.core.money import from_major, to_major_string
from gateway.core.phone import msisdn_digits
from gateway.core.providers import (
    CallbackRejected,
    CallbackVerdict,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
    ProviderRateLimited,
    RefundUnsupported,
    StartResult,
    StatusResult,
)
from payments.answers import json_object, json_object_or_empty, parsed_object
from payments.mtn.callback_secret import KEYED, QUERY_NAME, order_secret, secret_holds
from payments.mtn.messages import payer_message
from payments.token_cache import IssuedToken, TokenCache

NAME = "mtn"
RETRY_DELAYS = (0.5, 1.5, 4.0)  # time-outs and 5xx: sent again with the same X-Reference-Id
# MTN: "Get status transaction requests are capped to 10 requests per second" (developer guidance).
STATUS_CALLS_PER_SECOND = 10.0
TOO_MANY_REQUESTS = 429
STATES = {"SUCCESSFUL": PaymentState.SUCCESSFUL, "FAILED": PaymentState.FAILED, "PENDING": PaymentState.PENDING}


@dataclass(frozen=True)
class MtnCredentials:
    base_url: str
    subscription_key: str
    api_user: str
    api_key: str
    target_environment: str


class MtnMomoCollection:
    name = NAME
    redirects = False
    # MTN gives the payer ~5 minutes to approve (COULD_NOT_PERFORM_TRANSACTION after); a margin on top.
    payment_window = timedelta(minutes=10)

    def __init__(self, http: httpx.AsyncClient, credentials: MtnCredentials, public_base_url: str,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS, *,
                 status_calls_per_second: float | None = STATUS_CALLS_PER_SECOND,
                 callback_key: bytes | None = None) -> None:
        self.status_calls_per_second = status_calls_per_second
        self._callback_key = callback_key  # None: callbacks carry no secret, each asks for a status GET
        self._http = http
        self._creds = credentials
        self._public_base_url = public_base_url.rstrip("/")
        self._retry_delays = retry_delays
        self._tokens = TokenCache(self._fetch_token)

    def callback_url(self, collection: Collection) -> str:
        url = f"{self._public_base_url}/payments/mtn/callback/{collection.order_id}"
        if self._callback_key is None:
            return url
        return f"{url}?{QUERY_NAME}={order_secret(self._callback_key, collection.order_id)}"

    async def start(self, collection: Collection) -> StartResult:
        """Send the request-to-pay; a 409 means an earlier attempt with our reference got through."""
        if not collection.msisdn:
            raise PaymentError(NAME, "msisdn_required", "MTN MoMo needs the payer's phone number.")
        body = {
            "amount": to_major_string(collection.amount, collection.currency),
            "currency": collection.currency,
            "externalId": str(collection.order_id),
            "payer": {"partyIdType": "MSISDN", "partyId": msisdn_digits(collection.msisdn)},
            "payerMessage": payer_message(collection.description),
            "payeeNote": payer_message(collection.description),
        }
        headers = {"X-Reference-Id": str(collection.reference), "X-Callback-Url": self.callback_url(collection)}
        response = await self._send("POST", "/collection/v1_0/requesttopay", headers=headers, json=body)
        if response.status_code in (202, 409):
            kept: dict[str, object] = {"reference": str(collection.reference)}
            if self._callback_key is not None:
                kept[KEYED] = "secret"
            return StartResult(provider_data=kept)
        raise self._error(response)

    async def fetch_status(self, collection: Collection) -> StatusResult:
        # A 429 here is not sent again at once: the core takes another paced turn (a quick resend
        # would land in the window MTN just refused).
        response = await self._send("GET", f"/collection/v1_0/requesttopay/{collection.reference}",
                                    resend_rate_limited=False)
        if response.status_code == TOO_MANY_REQUESTS:
            raise ProviderRateLimited(NAME, "rate_limited", "MTN refused a status call over its rate.", retryable=True,
                              status=TOO_MANY_REQUESTS)
        if response.status_code == 404:
            raise CollectionNotFound(NAME, "not_found", "MTN has no request-to-pay with this reference.",
                                     status=404)
        if response.status_code != 200:
            raise self._error(response)
        return parse_status(json_object(NAME, response))

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """MTN does not sign: the URL's secret says the callback is MTN's (see the module's docstring)."""
        data = parsed_object(callback.body)
        claimed = "unparseable" if data is None else str(data.get("status", "unknown"))[:40].lower()
        asks_check = CallbackVerdict(order_id=callback.order_id, kind=f"callback.{claimed}")
        if collection is None or self._callback_key is None:
            return asks_check  # about no order of ours (kept bounded), or secrets are not in use here
        if not secret_holds(self._callback_key, collection.order_id, callback.secret):
            if callback.secret is None and collection.provider_data.get(KEYED) is None:
                return asks_check  # placed before callback URLs had a secret: a status GET decides
            raise CallbackRejected(NAME, "bad_callback_secret", "This callback URL's secret is wrong or missing.")
        status = parse_status(data) if data is not None else None
        if status is not None and callback_proves(data or {}, status, collection):
            return CallbackVerdict(order_id=callback.order_id, kind=asks_check.kind, status=status, verify_later=True)
        return asks_check

    async def refund(self, collection: Collection) -> StatusResult:
        raise RefundUnsupported(NAME, "refund_unsupported",
                                "MTN MoMo collections are refunded by a disbursement, by hand.")

    async def _send(self, method: str, path: str, *, headers: dict[str, str] | None = None,
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
            last_error = self._error(response)
        if isinstance(last_error, PaymentError):
            raise last_error
        raise PaymentError(NAME, "unreachable", f"MTN did not answer: {last_error!r}", retryable=True)

    async def _authorised(self, method: str, path: str, headers: dict[str, str] | None,
                          json: Mapping[str, object] | None) -> httpx.Response:
        stale: str | None = None
        for _ in range(2):
            token = await self._tokens.get(stale)
            all_headers = {**self._common_headers(), "Authorization": f"Bearer {token}", **(headers or {})}
            response = await self._http.request(method, self._creds.base_url.rstrip("/") + path,
                                                headers=all_headers, json=json)
            if response.status_code != 401:
                return response
            stale = token  # refreshed once: MTN may revoke a token before its stated expiry
        return response

    def _common_headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self._creds.subscription_key,
                "X-Target-Environment": self._creds.target_environment}

    async def _fetch_token(self) -> IssuedToken:
        try:
            response = await self._http.post(
                self._creds.base_url.rstrip("/") + "/collection/token/",
                auth=(self._creds.api_user, self._creds.api_key),
                headers={"Ocp-Apim-Subscription-Key": self._creds.subscription_key},
            )
        except httpx.TransportError as exc:
            raise PaymentError(NAME, "unreachable", f"MTN token endpoint did not answer: {exc!r}",
                               retryable=True) from exc
        if response.status_code != 200:
            # Bad credentials come back as 500 {"error": "login_failed"}: not worth retrying. Other 5xx are.
            error = self._error(response)
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

    def _error(self, response: httpx.Response) -> PaymentError:
        data = json_object_or_empty(response)
        code = str(data.get("code") or data.get("error") or f"http_{response.status_code}")
        message = str(data.get("message") or response.reason_phrase or "MTN refused the request")
        return PaymentError(NAME, code, message,
                            retryable=response.status_code >= 500 or response.status_code == TOO_MANY_REQUESTS,
                            status=response.status_code)


def callback_proves(data: dict[str, object], status: StatusResult, collection: Collection) -> bool:
    """A callback on the order's secret URL counts at once only when it says SUCCESSFUL for our reference,
    the order's amount and currency; else (missing or other figures) a status GET decides."""
    return (status.state is PaymentState.SUCCESSFUL and str(data.get("externalId", "")) == str(collection.order_id)
            and status.amount == collection.amount and (status.currency or "").upper() == collection.currency.upper())


def parse_status(data: dict[str, object]) -> StatusResult:
    """MTN's status body (or callback body) to our StatusResult."""
    raw = str(data.get("status", "")).upper()
    currency = str(data.get("currency") or "") or None
    amount = None
    if currency and data.get("amount") is not None:
        try:
            amount = from_major(str(data["amount"]), currency)
        except ValueError:
            amount = None  # an amount we cannot read never matches an order: it gets flagged
    reason = data.get("reason")
    if isinstance(reason, dict):  # older API versions send {"code", "message"}
        reason = reason.get("code") or reason.get("message")
    return StatusResult(
        state=STATES.get(raw, PaymentState.PENDING),
        amount=amount,
        currency=currency,
        provider_txn_id=str(data["financialTransactionId"]) if data.get("financialTransactionId") else None,
        reason=str(reason) if reason else None,
        raw_status=raw,
    )
