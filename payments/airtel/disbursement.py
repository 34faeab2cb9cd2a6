"""Airtel Money's Disbursement API: payouts to a wallet, and refunds, under our reference; their outcome by enquiry.

A refund is a disbursement of the amount owed to the wallet that paid, under the refund's reference. Airtel's own
refund call (`/standard/v1/payments/refund`) reverses a payment by Airtel's transaction id alone: it takes no reference
of ours, and Airtel documents no enquiry of it, so a refund sent that way could be neither followed nor safely asked
again. A disbursement can be both; it is paid from the application's disbursement wallet, not taken back from the
payment.

The transaction id is the payout's reference (32 hex digits), kept before the first call and sent on every retry:
Airtel refuses an id it has (DP00900001017, "duplicate transaction"), which says the payout was taken before, so a
payout is paid once however often it is asked. A time-out is not sent again at once: the core's transfers ask again
later, and ask about the reference before a refused resend fails (`gateway.core.money_out.transfers`). Airtel's
enquiry names no amount: a success is the amount sent under the reference, which we chose.
"""

from __future__ import annotations

import uuid
from typing import Any

from gateway.core.providers import (
    OutgoingPayout,
    OutgoingRefund,
    PaymentError,
    PaymentState,
    StatusResult,
)
from payments.airtel.api import AirtelApi, Wallet, error_of
from payments.airtel.codes import DUPLICATE, IN_PROCESS, NAME, STATES, SUCCESS, code_suffix, wallet_of
from payments.airtel.collection import enquiry, major_amount, status_block
from payments.answers import json_object_or_empty, text_of

REFERENCE_LENGTH = 64
TAKEN = (SUCCESS, DUPLICATE, *IN_PROCESS)  # response codes of a disbursement Airtel has


class AirtelDisbursement:
    """Payouts and refunds from the application's disbursement wallet, authorised by its PIN (encrypted with Airtel's
    key)."""

    def __init__(self, api: AirtelApi, encrypted_pin: str) -> None:
        self._api = api
        self._pin = encrypted_pin

    async def send_payout(self, payout: OutgoingPayout) -> None:
        await self._pay(payout.reference, payout.msisdn, payout.amount, payout.currency, payout.note)

    async def payout_status(self, payout: OutgoingPayout) -> StatusResult:
        return await self._enquire(payout.reference, payout.msisdn, payout.currency)

    async def send_refund(self, refund: OutgoingRefund) -> None:
        """The amount owed back, paid to the wallet that paid (see the module's docstring)."""
        await self._pay(refund.reference, refund.collection.msisdn, refund.amount, refund.currency,
                        f"Refund: {refund.collection.description}")

    async def refund_status(self, refund: OutgoingRefund) -> StatusResult:
        return await self._enquire(refund.reference, refund.collection.msisdn, refund.currency)

    async def _pay(self, reference: uuid.UUID, msisdn: str | None, amount: int, currency: str, note: str) -> None:
        country, currency, national = wallet_of(msisdn, currency)
        body = {"payee": {"msisdn": national}, "reference": note[:REFERENCE_LENGTH] or "Payout", "pin": self._pin,
                "transaction": {"amount": major_amount(amount, currency), "id": reference.hex}}
        response = await self._api.send("POST", "/standard/v1/disbursements/", Wallet(country, currency), json=body,
                                        resend_lost=False)
        data = json_object_or_empty(response)
        code = code_suffix(status_block(data).get("response_code"))
        if code in TAKEN or (response.status_code == 200 and not code and status_block(data).get("success")):
            return
        raise error_of(response) if response.status_code != 200 else PaymentError(
            NAME, str(status_block(data).get("response_code") or "refused"),
            str(status_block(data).get("message") or "Airtel refused the disbursement."), status=200)

    async def _enquire(self, reference: uuid.UUID, msisdn: str | None, currency: str) -> StatusResult:
        country, currency, _ = wallet_of(msisdn, currency)
        record, status = await enquiry(self._api, f"/standard/v1/disbursements/{reference.hex}",
                                       Wallet(country, currency), "disbursement under this reference")
        return payout_state(record, status.get("response_code"), status.get("message"))


def payout_state(record: dict[str, Any], code: object, message: object) -> StatusResult:
    """TS paid (the amount sent), TF and TE failed with Airtel's code and words for a person, else pending."""
    raw = str(record.get("status", "")).upper()
    state = STATES.get(raw, PaymentState.PENDING)
    txn = text_of(record.get("airtel_money_id"))
    if state in (PaymentState.FAILED, PaymentState.EXPIRED):
        reason = f"{code or raw}: {text_of(record.get('message')) or text_of(message) or 'failed'}"
        return StatusResult(PaymentState.FAILED, provider_txn_id=txn, reason=reason[:200], raw_status=raw)
    return StatusResult(state, provider_txn_id=txn, raw_status=raw)
