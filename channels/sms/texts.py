"""Every SMS the channel sends, from the catalogs' "sms" context: GSM-7 (French keeps é è à ù É, the accents GSM-7 has,
and writes the others plain: docs/texts.md) and one message (160 characters) with the longest names and figures a
contest can give them (tests/channels/sms/test_sms_texts.py checks every language). A receipt's words are every phone
channel's (channels/phone/receipt_texts.py): an SMS vote's and a USSD vote's say the same."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from channels.phone.gsm7 import clip, transliterate
from channels.phone.receipt_texts import NAME_WIDTH, SMS_LENGTH
from channels.phone.receipt_texts import readable as readable  # an SMS receipt's reason, as every phone channel's
from channels.phone.receipt_texts import receipt_text as receipt_text
from channels.phone.texts import ranking_line, texted_money
from gateway.core.providers import Approval
from gateway.core.texts import Lang, TextDomain

# The texts of voting by SMS: the `sms` domain of the catalogs in locales/ beside this module.
CATALOGS = TextDomain("sms", Path(__file__).parent / "locales")

TOP_NAME_WIDTHS = (14, 12, 10, 8, 6)  # five of them share one message: the widest that fits
KEYWORD_WIDTH = 10


@dataclass(frozen=True)
class SmsTexts:
    """One language's fixed messages; `{…}` fields are filled below."""

    usage: str  # {keyword} {short_code}
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
        unknown_candidate=t.pgettext("sms", "No candidate number {code}. Send {keyword} <number> <votes>, "
                                            "e.g. {keyword} 07 5."),
        top=t.pgettext("sms", "Top 5: {lines}"),
        top_empty=t.pgettext("sms", "No votes counted yet."),
        top_sealed=t.pgettext("sms", "The results are sealed until voting is closed."),
        stopped=t.pgettext("sms", "You will get no more messages, except receipts for your votes. "
                                  "Send HELP for help."),
        no_contest=t.pgettext("sms", "No vote is open on this number right now."),
    )


def prompt_template(lang: Lang, n: int, approval: Approval = Approval.MENU_APPROVAL) -> str:
    """A whole sentence per plural form; fields {total} {n} {code} {name} {ref}, and {provider} where the prompt asks
    for the PIN and is gone once closed (M-Pesa's: nothing waits in a menu to approve later)."""
    t = CATALOGS.translations(lang)
    if approval is Approval.PIN_PROMPT:
        # Limit: 160 (one SMS)
        return t.npgettext(
            "sms", "Enter your {provider} PIN on the prompt on your phone to pay {total} for {n} vote for {code} "
                   "{name}. Ref {ref}",
            "Enter your {provider} PIN on the prompt on your phone to pay {total} for {n} votes for {code} {name}. "
            "Ref {ref}", n)
    # Limit: 160 (one SMS)
    return t.npgettext(
        "sms", "Approve {total} on your phone for {n} vote for {code} {name}. Ref {ref}",
        "Approve {total} on your phone for {n} votes for {code} {name}. Ref {ref}", n)


def name(text: str, width: int = NAME_WIDTH) -> str:
    return clip(transliterate(text), width)


def prompt(lang: Lang, amount: int, currency: str, quantity: int, code: str, candidate: str, ref: str,
           approval: Approval = Approval.MENU_APPROVAL, provider: str = "") -> str:
    """What to do on the payment's prompt: `approval`, how its provider's payer approves it (`VoteService.approval`);
    `provider`, its name on a phone (`channels.phone.texts.provider_label`)."""
    return prompt_template(lang, quantity, approval).format(
        total=texted_money(amount, currency, lang), n=quantity, code=code, name=name(candidate), ref=ref,
        provider=provider)


def usage(lang: Lang, keyword: str, short_code: str) -> str:
    return sms_texts(lang).usage.format(keyword=clip(keyword, KEYWORD_WIDTH), short_code=clip(short_code, 16))


def bundles(lang: Lang, tiers: Sequence[tuple[int, int]], currency: str) -> str:
    """The contest's bundles, sent beside the how-to-vote reply (which says how to send a number of votes):
    "Bundles: 10 votes for FCFA 900, 50 votes for FCFA 4,000". `tiers`: (votes, amount in minor units), by votes. One
    message: the last bundles give way when they would not fit."""
    words = CATALOGS.translations(lang)

    def message(count: int) -> str:
        lines = ", ".join(words.npgettext("sms", "{quantity} vote for {total}", "{quantity} votes for {total}", votes)
                          .format(quantity=votes, total=texted_money(amount, currency, lang))
                          for votes, amount in tiers[:count])
        return words.pgettext("sms", "Bundles: {lines}").format(lines=lines)

    return message(next((count for count in range(len(tiers), 1, -1) if len(message(count)) <= SMS_LENGTH), 1))


def bad_quantity(lang: Lang, maximum: int, keyword: str) -> str:
    template = CATALOGS.translations(lang).npgettext(
        "sms", "You can buy 1 to {maximum} vote per message, e.g. {keyword} 07 5.",
        "You can buy 1 to {maximum} votes per message, e.g. {keyword} 07 5.", maximum)
    return template.format(maximum=maximum, keyword=clip(keyword, KEYWORD_WIDTH))


def unknown_candidate(lang: Lang, code: str, keyword: str) -> str:
    return sms_texts(lang).unknown_candidate.format(code=clip(code, 8), keyword=clip(keyword, KEYWORD_WIDTH))


def top(lang: Lang, rows: list[tuple[int, str, str, int | None]]) -> str:
    """`rows`: (rank, code, name, votes or None when the board hides counts); each reads "1. 07 Grace Ndongo: 12"
    (channels.phone.texts.ranking_line), names as wide as one message holds."""
    if not rows:
        return sms_texts(lang).top_empty

    def message(width: int) -> str:
        lines = ", ".join(ranking_line(lang, rank, code, name(who, width), votes) for rank, code, who, votes in rows)
        return sms_texts(lang).top.format(lines=lines)

    fitting = next((width for width in TOP_NAME_WIDTHS if len(message(width)) <= SMS_LENGTH), TOP_NAME_WIDTHS[-1])
    return clip(message(fitting), SMS_LENGTH)
