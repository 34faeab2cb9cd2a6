"""Every SMS the channel sends, from the catalogs' "sms" context: GSM-7 (French keeps é è à ù É, the accents
GSM-7 has, and writes the others plain: the README's "Texts") and one message (160 characters) with the longest
names and figures a contest can give them (tests/sms/test_texts.py checks every language)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from channels.phone.gsm7 import clip, texted, transliterate
from channels.phone.texts import money
from gateway.core.payments.reasons import READABLE
from gateway.core.texts import Lang, TextDomain

# The texts of voting by SMS: the `sms` domain of the catalogs in locales/ beside this module.
CATALOGS = TextDomain("sms", Path(__file__).parent / "locales")

SMS_LENGTH = 160
NAME_WIDTH = 20  # a candidate's name in a message, at most (as tests/phone/test_phone_texts.py assumes)
TOP_NAME_WIDTH = 14  # five of them share one message
REASON_WIDTH = 60
KEYWORD_WIDTH = 10


@dataclass(frozen=True)
class SmsTexts:
    """One language's fixed messages; `{…}` fields are filled below."""

    usage: str  # {keyword} {short_code}
    bad_quantity: str  # {maximum} {keyword}
    unknown_candidate: str  # {code} {keyword}
    top: str  # {lines}
    top_empty: str
    top_sealed: str
    stopped: str
    no_contest: str


@functools.cache
def sms_texts(lang: Lang) -> SmsTexts:
    t = CATALOGS.translations(lang)
    return SmsTexts(
        usage=t.pgettext("sms", "To vote, send {keyword} <number> <votes> to {short_code}, e.g. {keyword} 07 5. "
                                "TOP: ranking. STOP: no more messages."),
        bad_quantity=t.pgettext("sms", "You can buy 1 to {maximum} votes per message, e.g. {keyword} 07 5."),
        unknown_candidate=t.pgettext("sms", "No candidate number {code}. Send {keyword} <number> <votes>, "
                                            "e.g. {keyword} 07 5."),
        top=t.pgettext("sms", "Top 5: {lines}"),
        top_empty=t.pgettext("sms", "No votes counted yet."),
        top_sealed=t.pgettext("sms", "The results are sealed until voting is closed."),
        stopped=t.pgettext("sms", "You will get no more messages, except receipts for your votes. "
                                  "Send HELP for help."),
        no_contest=t.pgettext("sms", "No vote is open on this number right now."),
    )


def vote_text(lang: Lang, kind: str, n: int) -> str:
    """A whole sentence per plural form (`1 vote ... compte`, `5 votes ... comptes`); fields {n} {code}
    {name} {ref}, and {total} (prompt) or {reason} (failed)."""
    t = CATALOGS.translations(lang)
    if kind == "prompt":
        return t.npgettext("sms", "Approve {total} on your phone for {n} vote for {code} {name}. Ref {ref}",
                           "Approve {total} on your phone for {n} votes for {code} {name}. Ref {ref}", n)
    if kind == "paid":
        return t.npgettext("sms", "Thank you! {n} vote for {code} {name} counted. Ref {ref}",
                           "Thank you! {n} votes for {code} {name} counted. Ref {ref}", n)
    if kind == "expired":
        return t.npgettext("sms", "Payment not approved in time, {n} vote for {code} {name} not counted. Ref {ref}",
                           "Payment not approved in time, {n} votes for {code} {name} not counted. Ref {ref}", n)
    return t.npgettext("sms", "Payment failed, {n} vote for {code} {name} not counted: {reason} Ref {ref}",
                       "Payment failed, {n} votes for {code} {name} not counted: {reason} Ref {ref}", n)


def name(text: str, width: int = NAME_WIDTH) -> str:
    return clip(transliterate(text), width)


def prompt(lang: Lang, amount: int, currency: str, quantity: int, code: str, candidate: str, ref: str) -> str:
    return vote_text(lang, "prompt", quantity).format(total=money(amount, currency), n=quantity, code=code,
                                                      name=name(candidate), ref=ref)


def receipt_text(lang: Lang, kind: str, quantity: int, code: str, candidate: str, ref: str,
                 reason: str | None = None) -> str:
    """`kind`: paid, failed or expired (gateway.core.orders.receipts.ReceiptKind)."""
    return vote_text(lang, kind, quantity).format(n=quantity, code=code, name=name(candidate), ref=ref,
                                                  reason=readable(lang, reason))


def readable(lang: Lang, reason: str | None) -> str:
    """The provider's reason in the voter's words, without the code (room is short)."""
    english = READABLE.get(reason_code(reason), READABLE["FAILED"])
    return clip(texted(CATALOGS.translations(lang).gettext(english)), REASON_WIDTH)


def reason_code(reason: str | None) -> str:
    """The provider's code of a stored reason: `APPROVAL_REJECTED`, or the core's readable form
    `The payment was declined on the phone. (APPROVAL_REJECTED)` (gateway.core.payments.reasons)."""
    text = (reason or "").strip()
    if text.endswith(")") and "(" in text:
        text = text[text.rindex("(") + 1:-1]
    return text.strip().upper()


def usage(lang: Lang, keyword: str, short_code: str) -> str:
    return sms_texts(lang).usage.format(keyword=clip(keyword, KEYWORD_WIDTH), short_code=clip(short_code, 16))


def bad_quantity(lang: Lang, maximum: int, keyword: str) -> str:
    return sms_texts(lang).bad_quantity.format(maximum=maximum, keyword=clip(keyword, KEYWORD_WIDTH))


def unknown_candidate(lang: Lang, code: str, keyword: str) -> str:
    return sms_texts(lang).unknown_candidate.format(code=clip(code, 8), keyword=clip(keyword, KEYWORD_WIDTH))


def top(lang: Lang, rows: list[tuple[int, str, str, int | None]]) -> str:
    """`rows`: (rank, code, name, votes or None when the board hides counts)."""
    if not rows:
        return sms_texts(lang).top_empty
    lines = ", ".join(f"{rank}.{code} {name(who, TOP_NAME_WIDTH)}" + (f" {votes}" if votes is not None else "")
                      for rank, code, who, votes in rows)
    return clip(sms_texts(lang).top.format(lines=lines), SMS_LENGTH)
