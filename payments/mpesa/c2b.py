"""Daraja's C2B (Customer to Business): a customer pays a paybill from the M-Pesa menu, typing an account number;
for a vote, the candidate's code. What Daraja sends, and what we answer, read here (pure: no I/O).

Daraja posts the same body to both of a shortcode's registered URLs (`/mpesa/c2b/v2/registerurl`): its
ValidationURL before the money moves (only where Safaricom turned external validation on for the shortcode, on the
business's request: without it every payment is taken and only confirmed), and its ConfirmationURL once it moved.
The fields, all strings (Daraja's documentation and its sandbox): TransactionType ("Pay Bill"), TransID (the M-Pesa
receipt), TransTime (YYYYMMDDHHmmss, Nairobi's time), TransAmount ("3000.00"), BusinessShortCode, BillRefNumber (the
account number typed), InvoiceNumber, OrgAccountBalance, ThirdPartyTransID, MSISDN, FirstName (MiddleName,
LastName empty now).

The payer's number: Safaricom no longer gives it. Since mid-2024 (its Data Protection Act exercise) the MSISDN of a
C2B notification is a SHA-256 hash (hex) of the 2547… number on the v1 API, and masked ("2547 ***** 126") on v2;
March 2026 masks it on the statements and SMS too. So: a whole Kenyan number (Daraja's own sandbox, an old
integration) is the payer's number; a hash is a stable pseudonym of the payer (kept as the order's voter reference,
which the fraud rules count a payer by); a masked number names nobody (many payers share it) and is kept on the order
only. Where protocols.md says to "check the current documentation", this is what was found; follow the provider.

What we answer: validation `{"ResultCode": "0", "ResultDesc": "Accepted"}`, or a rejection with Daraja's C2B codes
(C2B00012 invalid account number, C2B00013 invalid amount, C2B00016 other error); confirmation is acknowledged
with ResultCode 0 whatever we make of it (the money moved: what we cannot count is kept for a person)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.core.money import minor_digits
from gateway.core.money_in.paid_unasked import AccountRefusal
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from payments.answers import text_of
from payments.mpesa.api import EAST_AFRICA

CURRENCY = "KES"
PROVIDER_DATA = "c2b"  # provider_data: the payment as Daraja told it (its receipt, paybill, time)
CHANNEL = "paybill"  # the order's channel: paid from the M-Pesa menu, no channel of ours asked for it
ACCEPTED = {"ResultCode": "0", "ResultDesc": "Accepted"}
INVALID_ACCOUNT, INVALID_AMOUNT, OTHER_ERROR = "C2B00012", "C2B00013", "C2B00016"
REJECTIONS = {
    AccountRefusal.UNKNOWN_ACCOUNT: (INVALID_ACCOUNT, "Rejected: no candidate has this account number"),
    AccountRefusal.BELOW_PRICE: (INVALID_AMOUNT, "Rejected: the amount buys no vote"),
    AccountRefusal.NOT_WHOLE_VOTES: (INVALID_AMOUNT, "Rejected: pay a whole number of votes"),
    AccountRefusal.NOT_OPEN: (OTHER_ERROR, "Rejected: voting is not open"),
    AccountRefusal.NOT_OURS: (OTHER_ERROR, "Rejected: this paybill takes no votes now"),
}
HASHED = re.compile(r"^[0-9a-fA-F]{64}$")
RECEIPT = re.compile(r"^[A-Z0-9]{6,20}$")
PAYER_REF_PREFIX = "mpesa-payer:"


@dataclass(frozen=True)
class C2bNotice:
    """One C2B body as Daraja sent it, read."""

    receipt: str
    paybill: str
    account: str
    amount: int  # cents
    paid_at: datetime  # TransTime, but never later than the word came (a clock ahead, or none given)
    msisdn: str | None  # E.164, only where Daraja gave the number whole
    payer_ref: str | None  # the payer's pseudonym (the hash of their number), where it gave that
    shown_number: str | None  # what Daraja gave as MSISDN, hashed or masked, kept on the order
    kind: str


def notice_of(body: dict[str, Any] | None, received_at: datetime) -> C2bNotice | None:
    """The body read, or None when it is no C2B notice (no receipt, no positive whole-cent amount). Its time is
    TransTime, or `received_at` (when its word came) where TransTime is missing, unreadable or later: a payment
    always has a time its statement can be judged by (`c2b_statement.judged`)."""
    if not body:
        return None
    receipt = (text_of(body.get("TransID")) or "").upper()
    amount = cents(body.get("TransAmount"))
    if not RECEIPT.match(receipt) or amount is None:
        return None
    shown = text_of(body.get("MSISDN"))
    msisdn, payer_ref = payer_of(shown)
    return C2bNotice(receipt, text_of(body.get("BusinessShortCode")) or "", text_of(body.get("BillRefNumber")) or "",
                     amount, paid_time(trans_time(body.get("TransTime")), received_at), msisdn, payer_ref, shown,
                     text_of(body.get("TransactionType")) or "")


def cents(value: object) -> int | None:
    """"3000.00", "3000", 3000 -> 300000; anything else (or not positive, or past the cent) None."""
    try:
        amount = Decimal(str(value)).scaleb(minor_digits(CURRENCY))
    except InvalidOperation:
        return None
    return int(amount) if amount > 0 and amount == amount.to_integral_value() else None


def paid_time(told: datetime | None, received_at: datetime) -> datetime:
    """When a payment was made, as believably as the word tells it: never after the word came. Pure."""
    return received_at if told is None else min(told, received_at)


def trans_time(value: object) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%Y%m%d%H%M%S").replace(tzinfo=EAST_AFRICA)
    except ValueError:
        return None


def payer_of(shown: str | None) -> tuple[str | None, str | None]:
    """(the payer's E.164 number, their pseudonym): a whole Kenyan number is theirs; a hash of it is a pseudonym
    (as is the hash we make of a whole number, so one payer is one pseudonym either way); a masked one is neither."""
    if not shown:
        return None, None
    if HASHED.match(shown):
        return None, PAYER_REF_PREFIX + shown.lower()
    if "*" in shown or "x" in shown.lower():
        return None, None
    try:
        number = normalise_msisdn(shown, "KE")
    except InvalidMsisdn:
        return None, None
    if not number.startswith("+254"):
        return None, None
    return number, PAYER_REF_PREFIX + hashlib.sha256(number.removeprefix("+").encode()).hexdigest()


def rejection(refusal: AccountRefusal, price: int | None = None) -> dict[str, str]:
    """Daraja's answer refusing a payment; an amount refused names one vote's price."""
    code, text = REJECTIONS[refusal]
    if price is not None and code == INVALID_AMOUNT:
        text += f", KES {Decimal(price).scaleb(-minor_digits(CURRENCY))} a vote"
    return {"ResultCode": code, "ResultDesc": text}
