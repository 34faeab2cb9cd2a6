"""MTN MoMo Disbursement: money going out of the platform's MTN account. A refund names the collection it gives
back (`referenceIdToRefund`); a payout is a `transfer` to the organiser's wallet (`payee`). Each carries our
reference as `X-Reference-Id`, so a retry never pays twice (MTN answers 409 to a reference it has); its outcome
is read by a status GET, under the same cap of 10 a second per account as the Collection product's. Its own
subscription key and API user (MTN gives each product its own)."""

from __future__ import annotations

import uuid

from gateway.core.money import to_major_string
from gateway.core.phone import msisdn_digits
from gateway.core.providers import (
    CollectionNotFound,
    OutgoingPayout,
    OutgoingRefund,
    ProviderRateLimited,
    StatusResult,
)
from payments.answers import json_object
from payments.mtn.api import NAME, TOO_MANY_REQUESTS, MtnApi, account_balance, error_of
from payments.mtn.callback_secret import QUERY_NAME, order_secret
from payments.mtn.collection import parse_status
from payments.mtn.messages import payer_message


class MtnDisbursement:
    account = "disbursement"  # refunds and payouts draw on it

    def __init__(self, api: MtnApi, public_base_url: str | None = None, callback_key: bytes | None = None) -> None:
        self._api = api
        self._public_base_url = (public_base_url or "").rstrip("/")
        self._callback_key = callback_key

    def _headers(self, reference: uuid.UUID) -> dict[str, str]:
        """Our reference, and where MTN says when it is done: a URL carrying the reference's secret
        (`payments.mtn.callback_secret`), whose callback only brings the status read forward."""
        headers = {"X-Reference-Id": str(reference)}
        if self._public_base_url and self._callback_key is not None:
            secret = order_secret(self._callback_key, reference)
            url = f"{self._public_base_url}/payments/mtn/disbursement/{reference}"
            headers["X-Callback-Url"] = f"{url}?{QUERY_NAME}={secret}"
        return headers

    async def send_refund(self, refund: OutgoingRefund) -> None:
        """`POST /disbursement/v1_0/refund`: 202 taken, 409 taken before (an earlier attempt got through)."""
        note = payer_message(f"Refund: {refund.collection.description}")
        body = {"amount": to_major_string(refund.amount, refund.currency), "currency": refund.currency,
                "externalId": str(refund.collection.order_id), "payerMessage": note, "payeeNote": note,
                "referenceIdToRefund": str(refund.collection.reference)}
        response = await self._api.send("POST", "/disbursement/v1_0/refund", headers=self._headers(refund.reference),
                                         json=body)
        if response.status_code not in (202, 409):
            raise error_of(response)

    async def refund_status(self, refund: OutgoingRefund) -> StatusResult:
        return await self._status("refund", str(refund.reference))

    async def send_payout(self, payout: OutgoingPayout) -> None:
        """`POST /disbursement/v1_0/transfer` to the wallet: 202 taken, 409 taken before."""
        note = payer_message(payout.note)
        body = {"amount": to_major_string(payout.amount, payout.currency), "currency": payout.currency,
                "externalId": str(payout.reference), "payerMessage": note, "payeeNote": note,
                "payee": {"partyIdType": "MSISDN", "partyId": msisdn_digits(payout.msisdn)}}
        response = await self._api.send("POST", "/disbursement/v1_0/transfer", headers=self._headers(payout.reference),
                                         json=body)
        if response.status_code not in (202, 409):
            raise error_of(response)

    async def payout_status(self, payout: OutgoingPayout) -> StatusResult:
        return await self._status("transfer", str(payout.reference))

    async def _status(self, kind: str, reference: str) -> StatusResult:
        response = await self._api.send("GET", f"/disbursement/v1_0/{kind}/{reference}", resend_rate_limited=False)
        if response.status_code == TOO_MANY_REQUESTS:
            raise ProviderRateLimited(NAME, "rate_limited", "MTN refused a status call over its rate.",
                                      retryable=True, status=TOO_MANY_REQUESTS)
        if response.status_code == 404:
            raise CollectionNotFound(NAME, "not_found", f"MTN has no {kind} with this reference.", status=404)
        if response.status_code != 200:
            raise error_of(response)
        return parse_status(json_object(NAME, response))

    async def balance(self, currency: str) -> int:
        """What the disbursement account holds, in minor units (a payout above it would fail at MTN)."""
        return await account_balance(self._api, currency)
