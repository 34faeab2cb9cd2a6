"""Daraja's Transaction Status query (`POST /mpesa/transactionstatus/v1/query`, CommandID TransactionStatusQuery):
what finds a reversal or B2C payment whose Result never came. Asynchronous like them: the answer says Daraja took
the query, and the query's own Result comes later to the ResultURL we gave it (`/payments/mpesa/status/<reference>`,
with the reference's secret), its ResultParameters naming the transaction's ReceiptNo, TransactionStatus
("Completed", ...), Amount.

The transaction is named by its OriginatorConversationID (the request field is `OriginalConversationID`): ours for a
B2C payment (our reference), Daraja's own (from its answer) for a reversal. Safaricom documents the receipt
(`TransactionID`) as the other way in, but the receipt of a transfer whose Result was lost is what we lack, so it is
left out. A Result with a non-zero ResultCode says Daraja found no such transaction (or could not look it up):
a reversal is then sent again under the same reference (a receipt is reversed once, so a resend that was not needed
costs nothing); a B2C payment is not (that Daraja takes an OriginatorConversationID once is not documented) and
stays sent, asked after again, until Daraja's word or a person settles it (payments.mpesa.money_out)."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.core.money import minor_digits
from gateway.core.providers import PaymentState, StatusResult
from payments.answers import text_of
from payments.mpesa.results import SUCCESS

PATH = "/mpesa/transactionstatus/v1/query"
SHORTCODE_IDENTIFIER = "4"  # IdentifierType of PartyA: an organisation's shortcode
COMPLETED = "completed"
FAILED = frozenset({"failed", "declined", "cancelled", "expired"})
CURRENCY = "KES"


def query_body(*, initiator: str, credential: str, originator: str, party_a: str, url: str,
               reference: uuid.UUID) -> dict[str, str]:
    """The query of the transaction Daraja knows as `originator` (both its URLs are our status URL: a time-out in
    Daraja's queue leaves nothing to keep, and the next look asks again)."""
    return {"Initiator": initiator, "SecurityCredential": credential, "CommandID": "TransactionStatusQuery",
            "OriginalConversationID": originator, "PartyA": party_a, "IdentifierType": SHORTCODE_IDENTIFIER,
            "ResultURL": url, "QueueTimeOutURL": url, "Remarks": "Status of a transfer whose result did not come",
            "Occasion": str(reference)[:100]}


def query_status(result: dict[str, Any], parameters: dict[str, Any]) -> StatusResult | None:
    """The transfer's state as the query's Result tells it (`parameters`: its ResultParameters by key); None when
    Daraja found no such transaction (or could not look it up): what follows is the transfer kind's own call."""
    if text_of(result.get("ResultCode")) != SUCCESS:
        return None
    said = text_of(parameters.get("TransactionStatus")) or ""
    if said.lower() == COMPLETED:
        cents = whole_shillings_in_cents(parameters.get("Amount"))
        return StatusResult(state=PaymentState.SUCCESSFUL, amount=cents, currency=CURRENCY if cents else None,
                            provider_txn_id=text_of(parameters.get("ReceiptNo")), raw_status=f"status:{said}")
    if said.lower() in FAILED:
        reason = text_of(parameters.get("ReasonType")) or said
        return StatusResult(state=PaymentState.FAILED, reason=f"{reason} (M-Pesa transaction status {said})",
                            raw_status=f"status:{said}")
    return StatusResult(state=PaymentState.PENDING, raw_status=f"status:{said or 'unknown'}")


def whole_shillings_in_cents(value: object) -> int | None:
    """Daraja writes an amount as a number or a string ("300", 300.0); anything else is no amount."""
    try:
        number = float(str(value))
    except ValueError:
        return None
    return int(number) * int(10 ** minor_digits(CURRENCY)) if number.is_integer() and number > 0 else None
