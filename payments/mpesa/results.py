"""What Daraja's result codes of an STK Push mean for the order, and what the voter is told.

The reason codes are the core's (`gateway.core.money_in.reasons`), whose texts the catalogs translate; the M-Pesa
code itself stays in the status's `raw_status` for support."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.providers import PaymentState

SUCCESS = "0"
# "Unable to lock subscriber, a transaction is already in process for the current subscriber": another prompt is
# open on the payer's phone. Never a failure: the prompt of this order is sent once that one is done.
SUBSCRIBER_LOCKED = "1001"
# Daraja's errorCode for it, on the STK Push request itself and (while a prompt is pending) on its query.
BEING_PROCESSED = "500.001.1001"
PROMPT_PENDING = "PROMPT_PENDING"  # the core's reason code of that wait
PROMPT_PENDING_TEXT = ("A payment prompt is already open on this phone: finish it first, then this vote's prompt "
                       "follows.")


@dataclass(frozen=True)
class ResultMeaning:
    state: PaymentState
    reason: str | None  # the core's reason code (None: success, or still pending)
    # Daraja's documented word that the prompt is over, unpaid (`StatusResult.final`): only these let "send again"
    # push a new prompt of the order. An undocumented code (one Daraja adds, say, for "still processing") is not.
    final: bool = False


MEANINGS = {
    SUCCESS: ResultMeaning(PaymentState.SUCCESSFUL, None),
    "1032": ResultMeaning(PaymentState.FAILED, "CANCELLED", final=True),  # the payer cancelled the prompt
    # DS timeout: no answer from the phone (a payment Safaricom debits late after it comes as a success callback on
    # this prompt, `stk_push.MpesaStkPush.verify_callback`)
    "1037": ResultMeaning(PaymentState.EXPIRED, "PHONE_NOT_REACHED", final=True),
    "1019": ResultMeaning(PaymentState.EXPIRED, "EXPIRED", final=True),  # the transaction expired unapproved
    "1": ResultMeaning(PaymentState.FAILED, "NOT_ENOUGH_FUNDS", final=True),  # insufficient balance
    "2001": ResultMeaning(PaymentState.FAILED, "WRONG_PIN", final=True),  # the initiator information (the PIN)
    # Daraja could not put the prompt on the phone (a passing fault of its own): nothing reached the payer.
    "1025": ResultMeaning(PaymentState.FAILED, "PROMPT_NOT_SENT", final=True),
    "9999": ResultMeaning(PaymentState.FAILED, "PROMPT_NOT_SENT", final=True),
    "17": ResultMeaning(PaymentState.FAILED, "INTERNAL_PROCESSING_ERROR"),  # the receiving shortcode was unavailable
    # The prompt never reached the phone because another was open: not the payer's refusal. The order waits, and
    # a new prompt is pushed once the phone is free (`stk_push.result_status` says to start it again).
    SUBSCRIBER_LOCKED: ResultMeaning(PaymentState.PENDING, PROMPT_PENDING),
}


def meaning(code: str, description: str | None) -> ResultMeaning:
    """An unknown code fails the order with Safaricom's own words (its ResultDesc), the code kept after them; never
    final (its prompt may still be open)."""
    if code in MEANINGS:
        return MEANINGS[code]
    return ResultMeaning(PaymentState.FAILED, f"{description or 'M-Pesa refused the payment'} (M-Pesa {code})")
