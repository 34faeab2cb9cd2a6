"""Provider failure codes in words a voter understands; the code stays in brackets for support."""

from __future__ import annotations

READABLE = {
    "APPROVAL_REJECTED": "The payment was declined on the phone.",
    "EXPIRED": "The payment was not approved in time.",
    "COULD_NOT_PERFORM_TRANSACTION": "The payment was not approved in time.",
    "PAYER_NOT_FOUND": "This number has no mobile-money account.",
    "NOT_ENOUGH_FUNDS": "There was not enough money in the account.",
    "PAYER_LIMIT_REACHED": "The account's payment limit has been reached.",
    "INTERNAL_PROCESSING_ERROR": "The operator could not process the payment.",
    "CANCELLED": "The payment was cancelled on the phone.",
    "FAILED": "The payment failed.",
}


def readable_reason(reason: str | None, fallback: str = "The payment failed.") -> str:
    if not reason:
        return fallback
    text = READABLE.get(reason.strip().upper())
    return f"{text} ({reason})" if text else reason
