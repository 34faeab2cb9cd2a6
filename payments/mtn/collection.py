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

from dataclasses import replace
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
from payments.answers import json_object, parsed_object
from payments.mtn.api import (
    NAME,
    RETRY_DELAYS,
    TOO_MANY_REQUESTS,
    MtnApi,
    MtnCredentials,
    account_balance,
    error_of,
)
from payments.mtn.callback_secret import KEYED, QUERY_NAME, order_secret, secret_holds
from payments.mtn.messages import payer_message

# MTN: "Get status transaction requests are capped to 10 requests per second" (developer guidance).
STATUS_CALLS_PER_SECOND = 10.0
STATES = {"SUCCESSFUL": PaymentState.SUCCESSFUL, "FAILED": PaymentState.FAILED, "PENDING": PaymentState.PENDING}


class MtnMomoCollection:
    name = NAME
    account = "collection"  # where the payments land
    redirects = False
    # MTN gives the payer ~5 minutes to approve (COULD_NOT_PERFORM_TRANSACTION after); a margin on top.
    payment_window = timedelta(minutes=10)

    def __init__(self, http: httpx.AsyncClient, credentials: MtnCredentials, public_base_url: str,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS, *,
                 status_calls_per_second: float | None = STATUS_CALLS_PER_SECOND,
                 callback_key: bytes | None = None) -> None:
        self.status_calls_per_second = status_calls_per_second
        self._callback_key = callback_key  # None: callbacks carry no secret, each asks for a status GET
        self._api = MtnApi(http, credentials, "collection", retry_delays)
        self._public_base_url = public_base_url.rstrip("/")

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
        response = await self._api.send("POST", "/collection/v1_0/requesttopay", headers=headers, json=body)
        if response.status_code in (202, 409):
            kept: dict[str, object] = {"reference": str(collection.reference)}
            if self._callback_key is not None:
                kept[KEYED] = "secret"
            return StartResult(provider_data=kept)
        raise error_of(response)

    async def fetch_status(self, collection: Collection) -> StatusResult:
        # A 429 here is not sent again at once: the core takes another paced turn (a quick resend
        # would land in the window MTN just refused).
        response = await self._api.send("GET", f"/collection/v1_0/requesttopay/{collection.reference}",
                                    resend_rate_limited=False)
        if response.status_code == TOO_MANY_REQUESTS:
            raise ProviderRateLimited(NAME, "rate_limited", "MTN refused a status call over its rate.", retryable=True,
                              status=TOO_MANY_REQUESTS)
        if response.status_code == 404:
            raise CollectionNotFound(NAME, "not_found", "MTN has no request-to-pay with this reference.",
                                     status=404)
        if response.status_code != 200:
            raise error_of(response)
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
        return replace(asks_check, vouched=True)  # MTN's own (its URL's secret held): its check is never bounded

    async def balance(self, currency: str) -> int:
        """What the collection account holds, in minor units: the payments that landed, less what was moved out."""
        return await account_balance(self._api, currency)

    async def refund(self, collection: Collection) -> StatusResult:
        raise RefundUnsupported(NAME, "refund_unsupported",
                                "MTN MoMo collections are refunded by a disbursement, by hand.")


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
