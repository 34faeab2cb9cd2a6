"""Provider failure codes in words a voter understands; the code stays in brackets for support.
Stored in English with the order; channels translate them by code (msgids of the core's catalogs)."""

from __future__ import annotations

from gateway.core.texts import N_

READABLE = {
    "APPROVAL_REJECTED": N_("The payment was declined on the phone."),
    "EXPIRED": N_("The payment was not approved in time."),
    "COULD_NOT_PERFORM_TRANSACTION": N_("The payment was not approved in time."),
    "PAYER_NOT_FOUND": N_("This number has no mobile-money account."),
    "NOT_ENOUGH_FUNDS": N_("There was not enough money in the account."),
    "PAYER_LIMIT_REACHED": N_("The account's payment limit has been reached."),
    "INTERNAL_PROCESSING_ERROR": N_("The operator could not process the payment."),
    "CANCELLED": N_("The payment was cancelled on the phone."),
    "FAILED": N_("The payment failed."),
    "WRONG_PIN": N_("A wrong PIN was entered on the phone."),
    "PAYMENT_REFUSED": N_("The operator refused the payment."),
    "AMOUNT_BELOW_MINIMUM": N_("The amount is below the operator's minimum."),
    # Each fits an SMS receipt's reason (channels.sms.texts.REASON_WIDTH, 60) in every language.
    "PHONE_NOT_REACHED": N_("The phone did not answer the prompt (off or out of reach)."),
    "PROMPT_PENDING": N_("A prompt is already open on this phone: finish it first."),
}


def readable_reason(reason: str | None, fallback: str = "The payment failed.") -> str:
    if not reason:
        return fallback
    text = READABLE.get(reason.strip().upper())
    return f"{text} ({reason})" if text else reason
