"""Provider failure codes in words a voter understands; the code stays in brackets for support.
Stored in English with the order; channels translate them by code (msgids of the core's catalogs) and show the words
alone (`voter_reason`): never the code, never a provider's own English words in another language."""

from __future__ import annotations

import re
from collections.abc import Callable

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
    "PROMPT_NOT_SENT": N_("The prompt could not be sent to the phone."),
    "PROMPT_SENT_AGAIN": N_("A new prompt was sent to your phone."),  # the payer asked for it (prompting_again)
    "LINES_CLOSED": N_("The lines had closed: no payment was asked."),  # a start after the close (starting)
    # MTN's other reasons (its Collection API's ErrorReason codes), in the words above.
    "PAYMENT_NOT_APPROVED": N_("The payment was not approved in time."),
    "TRANSACTION_CANCELED": N_("The payment was cancelled on the phone."),
    "NOT_ALLOWED": N_("The operator refused the payment."),
    "PAYEE_NOT_ALLOWED_TO_RECEIVE": N_("The operator refused the payment."),
    "INVALID_CURRENCY": N_("The operator refused the payment."),
    "SERVICE_UNAVAILABLE": N_("The operator could not process the payment."),
}
GENERIC = "FAILED"
# The code a stored reason ends with (`readable_reason`'s form), or a bare code.
TRAILING_CODE = re.compile(r"\(([A-Z][A-Z_]+)\)\s*$")
BARE_CODE = re.compile(r"[A-Z][A-Z_]+")


def readable_reason(reason: str | None, fallback: str = "The payment failed.") -> str:
    if not reason:
        return fallback
    text = READABLE.get(reason.strip().upper())
    return f"{text} ({reason})" if text else reason


def reason_code(reason: str | None) -> str | None:
    """The code of a stored reason: `WRONG_PIN`, or the readable form `A wrong PIN was entered on the phone.
    (WRONG_PIN)`; None for anything else (a provider's own words, a note)."""
    text = (reason or "").strip()
    match = TRAILING_CODE.search(text)
    code = match.group(1) if match else text.upper() if BARE_CODE.fullmatch(text.upper()) else None
    return code if code in READABLE else None


def voter_reason(reason: str | None, gettext: Callable[[str], str], fallback: str = GENERIC) -> str:
    """A failure's reason as a voter reads it, through `gettext` (the reader's catalog): the words of its code,
    else the words of a failed payment. Never the code itself, nor words the catalogs do not hold."""
    return gettext(READABLE[reason_code(reason) or fallback])
