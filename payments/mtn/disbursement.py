"""MTN MoMo Disbursement: money going out of the platform's MTN account. A refund names the collection it gives
back (`referenceIdToRefund`), with our reference as `X-Reference-Id`, so a retry never pays twice (MTN answers
409 to a reference it has); its outcome is read by a status GET, under the same cap of 10 a second per account
as the Collection product's. Its own subscription key and API user (MTN gives each product its own)."""

from __future__ import annotations

from gateway.core.money import from_major, to_major_string
from gateway.core.providers import (
    CollectionNotFound,
    OutgoingRefund,
    PaymentError,
    ProviderRateLimited,
    StatusResult,
)
from payments.answers import json_object
from payments.mtn.api import NAME, TOO_MANY_REQUESTS, MtnApi, error_of
from payments.mtn.collection import parse_status
from payments.mtn.messages import payer_message


class MtnDisbursement:
    def __init__(self, api: MtnApi) -> None:
        self._api = api

    async def send_refund(self, refund: OutgoingRefund) -> None:
        """`POST /disbursement/v1_0/refund`: 202 taken, 409 taken before (an earlier attempt got through)."""
        note = payer_message(f"Refund: {refund.collection.description}")
        body = {"amount": to_major_string(refund.amount, refund.currency), "currency": refund.currency,
                "externalId": str(refund.collection.order_id), "payerMessage": note, "payeeNote": note,
                "referenceIdToRefund": str(refund.collection.reference)}
        response = await self._api.send("POST", "/disbursement/v1_0/refund",
                                         headers={"X-Reference-Id": str(refund.reference)}, json=body)
        if response.status_code not in (202, 409):
            raise error_of(response)

    async def refund_status(self, refund: OutgoingRefund) -> StatusResult:
        response = await self._api.send("GET", f"/disbursement/v1_0/refund/{refund.reference}",
                                        resend_rate_limited=False)
        if response.status_code == TOO_MANY_REQUESTS:
            raise ProviderRateLimited(NAME, "rate_limited", "MTN refused a status call over its rate.",
                                      retryable=True, status=TOO_MANY_REQUESTS)
        if response.status_code == 404:
            raise CollectionNotFound(NAME, "not_found", "MTN has no refund with this reference.", status=404)
        if response.status_code != 200:
            raise error_of(response)
        return parse_status(json_object(NAME, response))

    async def balance(self, currency: str) -> int:
        """What the disbursement account holds, in minor units (a payout above it would fail at MTN)."""
        response = await self._api.send("GET", f"/disbursement/v1_0/account/balance?currency={currency}")
        if response.status_code != 200:
            raise error_of(response)
        data = json_object(NAME, response)
        try:
            return from_major(str(data["availableBalance"]), str(data.get("currency") or currency))
        except (KeyError, ValueError) as exc:
            raise PaymentError(NAME, "unreadable_answer", "MTN's balance answer is unreadable.") from exc
