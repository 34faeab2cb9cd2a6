"""The message a phone voter gets once their order is decided, whatever phone channel they voted from (an SMS vote's
receipt, and the SMS that follows a USSD vote): the same words, in the voter's language, GSM-7, one SMS (160
characters) with the longest names, counts and reasons a contest can give it (tests/channels/sms/test_sms_texts.py).

A failure says why in words (the core's readable reasons, by the provider's code), never the code itself: room is
short, and a code means nothing to a voter."""

from __future__ import annotations

from channels.phone.gsm7 import clip, texted, transliterate
from channels.phone.texts import CATALOGS, provider_label
from gateway.core.money_in.reasons import READABLE
from gateway.core.orders.receipts import Receipt
from gateway.core.texts import Lang

SMS_LENGTH = 160
NAME_WIDTH = 20  # a candidate's name in a message, at most (as tests/channels/phone/test_phone_texts.py assumes)
REASON_WIDTH = 60
RECEIPT_WIDTH = 20  # a provider's receipt code (M-Pesa's are 10 characters)


def receipt_template(lang: Lang, kind: str, n: int, with_provider_receipt: bool = False) -> str:
    """A whole sentence per plural form (`1 vote ... compté`, `5 votes ... comptés`); fields {n} {code} {name}
    {ref}, and {reason} (failed), {provider} {receipt} (paid, where the provider gave its own receipt code)."""
    t = CATALOGS.translations(lang)
    if kind == "paid" and with_provider_receipt:
        # Limit: 160 (one SMS)
        return t.npgettext("phone", "Thank you! {n} vote for {code} {name} counted. {provider} receipt {receipt}. "
                                    "Ref {ref}",
                           "Thank you! {n} votes for {code} {name} counted. {provider} receipt {receipt}. Ref {ref}",
                           n)
    if kind == "paid":
        # Limit: 160 (one SMS)
        return t.npgettext("phone", "Thank you! {n} vote for {code} {name} counted. Ref {ref}",
                           "Thank you! {n} votes for {code} {name} counted. Ref {ref}", n)
    if kind == "late":
        # Limit: 160 (one SMS)
        return t.npgettext("phone", "The lines had closed: {n} vote for {code} {name} not counted, your payment is "
                                    "being refunded. Ref {ref}",
                           "The lines had closed: {n} votes for {code} {name} not counted, your payment is being "
                           "refunded. Ref {ref}", n)
    if kind == "expired":
        # Limit: 160 (one SMS)
        return t.npgettext("phone", "Payment not approved in time, {n} vote for {code} {name} not counted. Ref {ref}",
                           "Payment not approved in time, {n} votes for {code} {name} not counted. Ref {ref}", n)
    # Limit: 160 (one SMS)
    return t.npgettext("phone", "Payment failed, {n} vote for {code} {name} not counted: {reason} Ref {ref}",
                       "Payment failed, {n} votes for {code} {name} not counted: {reason} Ref {ref}", n)


def receipt_text(lang: Lang, kind: str, quantity: int, code: str, candidate: str, ref: str,
                 reason: str | None = None, provider: str | None = None, provider_receipt: str | None = None) -> str:
    """`kind`: paid, failed, expired or late (gateway.core.orders.receipts.ReceiptKind); `provider_receipt`: the
    provider's own receipt code of a paid order (M-Pesa's), said with `provider`'s name when there is one."""
    receipt = clip(transliterate(provider_receipt or ""), RECEIPT_WIDTH)
    template = receipt_template(lang, kind, quantity, with_provider_receipt=bool(receipt))
    return template.format(n=quantity, code=code, name=clip(transliterate(candidate), NAME_WIDTH), ref=ref,
                           reason=readable(lang, reason), provider=provider or "", receipt=receipt)


def decided_order_text(receipt: Receipt, lang: Lang) -> str:
    """The message of a decided order (gateway.core.orders.receipts), as every phone channel texts it."""
    order = receipt.order
    return receipt_text(lang, receipt.kind.value, order.quantity, order.candidate_code, order.candidate_name,
                        order.reference, order.status_reason,
                        provider=provider_label(order.provider, receipt.provider_label),
                        provider_receipt=provider_receipt(receipt))


def provider_receipt(receipt: Receipt) -> str | None:
    """The provider's own receipt code of a paid order (M-Pesa's MpesaReceiptNumber, which the voter also got from
    M-Pesa), where the core's receipt carries one (`VoterOrder.receipt_code`, kept only for a provider whose payers
    are given such a code); None otherwise, and the text leaves it out. Read by name while the core's order view
    gains it."""
    code = getattr(receipt.order, "receipt_code", None)
    return code if isinstance(code, str) and code else None


def readable(lang: Lang, reason: str | None) -> str:
    """The provider's reason in the voter's words, without the code (room is short)."""
    english = READABLE.get(reason_code(reason), READABLE["FAILED"])
    return clip(texted(CATALOGS.translations(lang).gettext(english)), REASON_WIDTH)


def reason_code(reason: str | None) -> str:
    """The provider's code of a stored reason: `APPROVAL_REJECTED`, or the core's readable form
    `The payment was declined on the phone. (APPROVAL_REJECTED)` (gateway.core.money_in.reasons)."""
    text = (reason or "").strip()
    if text.endswith(")") and "(" in text:
        text = text[text.rindex("(") + 1:-1]
    return text.strip().upper()
