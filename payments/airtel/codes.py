"""What Airtel's answers mean: its transaction statuses, its response codes in the words the voter is told (the
core's reason codes, `gateway.core.money_in.reasons`), and the countries and currencies an application may charge in.

The response codes are those Airtel's developer documentation lists for the Collection API (DP008…) and the
Disbursement API (DP009…). Read widely, they are: 000 ambiguous, 001 success, 002 incorrect PIN, 003 the wallet's
limit exceeded, 004 an amount under the minimum, 005 the PIN never entered (an invalid transaction), 006 in
process, 007 not enough balance, 008 refused, 009 "do not honor", 010 not permitted (a barred or unregistered
wallet), 024 timed out, 025 not found, 026 a bad signature, 029 expired. A code not listed is a failure with the
operator's generic reason; a status of TA or TIP is pending whatever the code.
"""

from __future__ import annotations

import phonenumbers

from gateway.core.providers import PaymentError, PaymentState

NAME = "airtel"

# The transaction's `status` in an enquiry (`data.transaction.status`) and `status_code` in a callback.
STATES = {"TS": PaymentState.SUCCESSFUL, "TF": PaymentState.FAILED, "TE": PaymentState.EXPIRED,
          "TA": PaymentState.PENDING, "TIP": PaymentState.PENDING}

SUCCESS = "001"
IN_PROCESS = ("000", "006")  # ambiguous, in process: ask again later
NOT_FOUND = "025"
DUPLICATE = "017"  # the Disbursement API's "duplicate transaction id": the payout was taken before
# The core's reason codes (texts in its catalogs), by the last three digits of Airtel's response code.
REASONS = {
    "002": "WRONG_PIN",
    "003": "PAYER_LIMIT_REACHED",
    "004": "AMOUNT_BELOW_MINIMUM",
    "005": "EXPIRED",  # the payer never entered the PIN
    "007": "NOT_ENOUGH_FUNDS",
    "008": "PAYMENT_REFUSED",
    "009": "PAYMENT_REFUSED",
    "010": "PAYER_NOT_FOUND",  # barred, leaving, or not registered on Airtel Money
    "024": "EXPIRED",  # no answer from the payer in time
    "026": "INTERNAL_PROCESSING_ERROR",
    "029": "EXPIRED",
}
GENERIC = "INTERNAL_PROCESSING_ERROR"

# Where Airtel Money runs, and the currencies its wallets there hold (an application is registered per country).
CURRENCIES = {
    "UG": frozenset({"UGX"}), "KE": frozenset({"KES"}), "TZ": frozenset({"TZS"}), "ZM": frozenset({"ZMW"}),
    "MW": frozenset({"MWK"}), "RW": frozenset({"RWF"}), "CD": frozenset({"CDF", "USD"}), "CG": frozenset({"XAF"}),
    "GA": frozenset({"XAF"}), "TD": frozenset({"XAF"}), "NE": frozenset({"XOF"}), "MG": frozenset({"MGA"}),
    "SC": frozenset({"SCR"}), "NG": frozenset({"NGN"}),
}


def code_suffix(response_code: object) -> str:
    """The last three digits of a response code (DP00800001007 → "007"); "" for anything else (the gateway's own
    result codes, ESB…, say nothing of the payment)."""
    text = str(response_code or "")
    return text[-3:] if text.startswith("DP") and text[-3:].isdigit() else ""


def reason_of(response_code: object) -> str:
    """The core's reason code for a failure Airtel gave this response code."""
    return REASONS.get(code_suffix(response_code), GENERIC)


def wallet_of(msisdn: str | None, currency: str) -> tuple[str, str, str]:
    """(country, currency, national number) of an E.164 wallet number: Airtel takes the number without its country
    code, and the country and currency in headers; a number of a country Airtel does not serve, or a currency its
    wallets there do not hold, is refused before any call."""
    try:
        number = phonenumbers.parse(msisdn or "", None)
    except phonenumbers.NumberParseException as exc:
        raise PaymentError(NAME, "msisdn_required", "Airtel Money needs the payer's phone number.") from exc
    country = phonenumbers.region_code_for_number(number) or ""
    held = CURRENCIES.get(country)
    if held is None:
        raise PaymentError(NAME, "unsupported_number", "Airtel Money does not serve this phone number's country.")
    if currency.upper() not in held:
        raise PaymentError(NAME, "unsupported_currency",
                           f"Airtel Money wallets in {country} do not hold {currency.upper()}.")
    return country, currency.upper(), str(number.national_number)
