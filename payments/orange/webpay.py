"""Orange Money WebPay: the payer is sent to Orange's page; the notification carries a token we
compare with the one Orange gave us, and the payment is then confirmed with `transactionstatus`."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from payments.answers import json_object, json_object_or_empty, parsed_object, required_text, text_of
from payments.base import (
    CallbackRejected,
    CallbackVerdict,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
    RefundUnsupported,
    StartResult,
    StatusResult,
)
from payments.money import to_major_string
from payments.orange.oauth import ClientCredentialsToken

NAME = "orange"
STATES = {"SUCCESS": PaymentState.SUCCESSFUL, "FAILED": PaymentState.FAILED, "EXPIRED": PaymentState.EXPIRED,
          "INITIATED": PaymentState.PENDING, "PENDING": PaymentState.PENDING}


@dataclass(frozen=True)
class WebPayCredentials:
    base_url: str
    token_url: str
    client_id: str
    client_secret: str
    merchant_key: str
    country: str  # dev, cm, ci, …


class OrangeWebPay:
    name = NAME
    redirects = True
    payment_window = timedelta(minutes=15)  # the payment page stays usable about ten minutes
    status_calls_per_second: float | None = None  # no published cap

    def __init__(self, http: httpx.AsyncClient, credentials: WebPayCredentials, public_base_url: str) -> None:
        self._http = http
        self._creds = credentials
        self._public = public_base_url.rstrip("/")
        self._token = ClientCredentialsToken(http, NAME, credentials.token_url, credentials.client_id,
                                             credentials.client_secret)

    def _api(self, action: str) -> str:
        return f"{self._creds.base_url.rstrip('/')}/orange-money-webpay/{self._creds.country}/v1/{action}"

    def _currency(self, currency: str) -> str:
        # Orange's dev environment takes only its test currency, "OUV"; live countries take XAF/XOF.
        return "OUV" if self._creds.country == "dev" else currency

    async def start(self, collection: Collection) -> StartResult:
        order_page = f"{self._public}/orders/{collection.order_id}"
        body = {
            "merchant_key": self._creds.merchant_key,
            "currency": self._currency(collection.currency),
            "order_id": str(collection.reference),
            "amount": float(to_major_string(collection.amount, collection.currency)),
            "return_url": f"{order_page}?from=orange",
            "cancel_url": f"{order_page}?cancelled=1",
            "notif_url": f"{self._public}/payments/orange/notify/{collection.order_id}",
            "lang": "fr",
            "reference": collection.description[:64],
        }
        data = await self._post(self._api("webpayment"), body, expect=201)
        page, pay_token, notif_token = required_text(NAME, data, "payment_url", "pay_token", "notif_token")
        return StartResult(redirect_url=page, provider_data={"pay_token": pay_token, "notif_token": notif_token})

    async def fetch_status(self, collection: Collection) -> StatusResult:
        pay_token = collection.provider_data.get("pay_token")
        if not pay_token:
            raise CollectionNotFound(NAME, "not_started", "No Orange payment page was opened for this order.")
        body = {"order_id": str(collection.reference),
                "amount": float(to_major_string(collection.amount, collection.currency)), "pay_token": pay_token}
        data = await self._post(self._api("transactionstatus"), body, expect=(200, 201))
        raw = str(data.get("status", "")).upper()
        # transactionstatus answers for the order_id, amount and pay_token we asked about; it does not echo
        # them, so a SUCCESS is a success for this order's own amount.
        return StatusResult(state=STATES.get(raw, PaymentState.PENDING), amount=collection.amount,
                            currency=collection.currency, provider_txn_id=text_of(data.get("txnid")),
                            reason=None if raw in ("SUCCESS", "PENDING", "INITIATED") else raw, raw_status=raw)

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """The notification is genuine only if it carries the notif_token Orange gave us for this order."""
        data = parsed_object(callback.body)
        if data is None or "notif_token" not in data:
            raise CallbackRejected(NAME, "bad_notification", "Not an Orange WebPay notification.")
        token = str(data["notif_token"])
        expected = str((collection.provider_data if collection else {}).get("notif_token", ""))
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):  # str: ASCII only
            raise CallbackRejected(NAME, "bad_notif_token", "The notification token does not match this order.")
        return CallbackVerdict(order_id=callback.order_id, kind=f"notification.{str(data.get('status')).lower()}")

    async def refund(self, collection: Collection) -> StatusResult:
        raise RefundUnsupported(NAME, "refund_unsupported", "Orange Money payments are refunded by hand.")

    async def _post(self, url: str, body: dict[str, Any], expect: int | tuple[int, ...]) -> dict[str, Any]:
        expected = (expect,) if isinstance(expect, int) else expect
        stale: str | None = None
        for _ in range(2):
            token = await self._token.get(stale)
            try:
                response = await self._http.post(url, json=body, headers={"Authorization": f"Bearer {token}",
                                                                          "Accept": "application/json"})
            except httpx.TransportError as exc:
                raise PaymentError(NAME, "unreachable", f"Orange did not answer: {exc!r}", retryable=True) from exc
            if response.status_code != 401:
                break
            stale = token
        if response.status_code in expected:
            return json_object(NAME, response)
        return _raise(response)


def _raise(response: httpx.Response) -> Any:
    data = json_object_or_empty(response)
    message = str(data.get("message") or data.get("description") or response.reason_phrase)
    code = str(data.get("code") or f"http_{response.status_code}")
    raise PaymentError(NAME, code, message, retryable=response.status_code >= 500, status=response.status_code)
