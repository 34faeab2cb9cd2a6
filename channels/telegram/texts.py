"""Every word of the Telegram bot, from the catalogs' "telegram" context (gateway/core/locales).

The language is the user's own Telegram language (`language_code`) where a catalog has it, else the
contest's; the receipt, sent later by a job, speaks the contest's language.
"""

from __future__ import annotations

import functools
import gettext
from dataclasses import dataclass
from pathlib import Path

from gateway.core.market import DEFAULT_COUNTRY, UnknownCountry, market_of
from gateway.core.providers import Approval
from gateway.core.texts import Lang, TextDomain

# The texts of the Telegram bot: the `telegram` domain of the catalogs in locales/ beside this module.
CATALOGS = TextDomain("telegram", Path(__file__).parent / "locales")


@dataclass(frozen=True)
class Texts:
    """One language's bot texts; `{…}` fields are filled by the handlers."""

    lang: str  # for numbers and money, written as the language writes them
    welcome: str
    no_contests: str
    paused: str  # {contest}
    contest: str  # {name} {price}
    choose_candidate: str
    more: str
    back: str
    about: str
    no_bio: str
    how_many: str  # {name} {maximum}
    other_quantity: str
    not_a_quantity: str  # {maximum}
    pay_stars: str  # {total}
    pay_momo: str  # {total}
    ask_number: str
    share_number: str
    not_your_number: str
    open_payment_page: str
    payment_page: str
    invoice_sent: str
    refused: str  # {reason}
    pay_refusals: dict[str, str]
    paid: str
    refunded_late: str
    not_counted: str
    my_votes_title: str
    my_votes_empty: str
    statuses: dict[str, str]
    top_title: str  # {contest}
    top_line: str  # {rank} {code} {name} {votes}
    top_line_hidden: str  # {rank} {code} {name}
    top_empty: str
    top_sealed: str
    paysupport: str
    unknown: str
    expired_button: str


@functools.cache
def texts(lang: Lang) -> Texts:
    t = CATALOGS.translations(lang)
    return Texts(
        lang=lang.value,
        welcome=t.pgettext("telegram", "Welcome! Choose a contest to vote in:"),
        no_contests=t.pgettext("telegram", "No contest is open for votes right now."),
        paused=t.pgettext("telegram", "Voting for {contest} is paused for a moment. Please try again shortly."),
        contest=t.pgettext("telegram", "{name}\nOne vote: {price}"),
        choose_candidate=t.pgettext("telegram", "Choose a candidate:"),
        more=t.pgettext("telegram", "More »"),
        back=t.pgettext("telegram", "« Back"),
        about=t.pgettext("telegram", "About {name}"),
        no_bio=t.pgettext("telegram", "No biography yet."),
        how_many=t.pgettext("telegram", "How many votes for {name}? (1 to {maximum})"),
        other_quantity=t.pgettext("telegram", "Other number: type it"),
        not_a_quantity=t.pgettext("telegram", "Please type a number of votes from 1 to {maximum}."),
        pay_stars=t.pgettext("telegram", "Pay {total} in Telegram Stars"),
        pay_momo=t.pgettext("telegram", "Pay {total} by mobile money"),
        ask_number=t.pgettext("telegram", "Share your mobile money number with the button below, or type it."),
        share_number=t.pgettext("telegram", "Share my number"),
        not_your_number=t.pgettext("telegram", "Please share your own number (or type it)."),
        open_payment_page=t.pgettext("telegram", "Open the payment page"),
        payment_page=t.pgettext("telegram", "Pay on the payment page; your receipt follows here."),
        invoice_sent=t.pgettext("telegram", "Here is your invoice: tap Pay to vote."),
        refused=t.pgettext("telegram", "Your vote was not taken: {reason}"),
        pay_refusals={
            "order_not_found": t.pgettext("telegram", "this invoice is not ours."),
            "order_decided": t.pgettext("telegram", "this invoice was already settled or has expired."),
            "contest_closed": t.pgettext("telegram", "voting has closed."),
            "candidate_not_active": t.pgettext("telegram", "this candidate no longer receives votes."),
            "amount_mismatch": t.pgettext("telegram", "the amount does not match the order."),
        },
        paid=t.pgettext("telegram", "Payment received, thank you! Your receipt follows."),
        refunded_late=t.pgettext("telegram", "Voting closed before your payment arrived: your Stars were "
                                              "refunded and no vote was counted."),
        not_counted=t.pgettext("telegram", "Your payment was received but needs a check by our team; "
                                            "use /paysupport if you have a question."),
        my_votes_title=t.pgettext("telegram", "Your latest votes:"),
        my_votes_empty=t.pgettext("telegram", "You have not voted from Telegram yet."),
        statuses={"paid": t.pgettext("telegram", "counted"), "pending": t.pgettext("telegram", "waiting"),
                  "failed": t.pgettext("telegram", "failed"), "expired": t.pgettext("telegram", "expired"),
                  "flagged": t.pgettext("telegram", "in review"),
                  "refund_requested": t.pgettext("telegram", "refunded"),
                  "late": t.pgettext("telegram", "too late, being refunded"),
                  "refunded": t.pgettext("telegram", "refunded")},
        top_title=t.pgettext("telegram", "Top 5 - {contest}"),
        top_line=t.pgettext("telegram", "{rank}. {code} {name}: {votes}"),
        top_line_hidden=t.pgettext("telegram", "{rank}. {code} {name}"),
        top_empty=t.pgettext("telegram", "No votes yet."),
        top_sealed=t.pgettext("telegram", "The results are sealed until voting is closed."),
        paysupport=t.pgettext("telegram", "Payment support: votes are digital and counted at once, so they are "
                                           "not refunded once counted. A payment that arrives after voting "
                                           "closes is refunded automatically. For any other problem, write "
                                           "to us here with your receipt reference."),
        unknown=t.pgettext("telegram", "Send /start to vote, /top for the board, /myvotes for your votes."),
        expired_button=t.pgettext("telegram", "This menu is out of date: send /start."),
    )


def words(t: Texts) -> gettext.GNUTranslations:
    """The catalog behind `t`, for the texts that say a count (their plural forms are the catalog's own: "1 vote",
    "2 votes"; French "0 vote"; Swahili "kura 1 ... imehesabiwa", "kura 2 ... zimehesabiwa")."""
    return CATALOGS.translations(t.lang)


def how_to_pay(t: Texts, quantity: int, name: str, total: str) -> str:
    return words(t).npgettext(
        "telegram", "{quantity} vote for {name}: {total}\nHow do you want to pay?",
        "{quantity} votes for {name}: {total}\nHow do you want to pay?", quantity,
    ).format(quantity=quantity, name=name, total=total)


def not_a_number(t: Texts, country: str) -> str:
    """A number typed wrong, with one as the contest's country writes it (`0712 123456` in Kenya, `6 71 23 45 67` in
    Cameroon): the voter types their own the same way."""
    try:
        example = market_of(country).example_number
    except UnknownCountry:  # a contest's country is always one; a stale menu's may be anything
        example = market_of(DEFAULT_COUNTRY).example_number
    return words(t).pgettext("telegram", "This is not a valid phone number; type it again, e.g. {example}.").format(
        example=example)


def prompt_sent(t: Texts, msisdn: str, approval: Approval, provider: str, total: str) -> str:
    """What to do on the payment's prompt, by how its provider's payer approves it (`VoteService.approval`): a PIN
    typed on the prompt that appeared (M-Pesa's, gone once closed), else a request approved on the phone."""
    if approval is Approval.PIN_PROMPT:
        template = words(t).pgettext("telegram", "Enter your {provider} PIN on the prompt that appeared on {msisdn} "
                                                 "to pay {total}. Your receipt follows here.")
    else:
        template = words(t).pgettext("telegram", "A payment request was sent to {msisdn}: approve it on your phone. "
                                                 "Your receipt follows here.")
    return template.format(msisdn=msisdn, provider=provider, total=total)


def receipt_template(t: Texts, kind: str, quantity: int, with_receipt_code: bool = False) -> str:
    """A decided order's receipt, a whole sentence per plural form; fields {reference} {quantity} {code} {name},
    {contest} (paid) and {provider} {receipt} (paid, where the provider gives its payers a receipt code)."""
    w = words(t)
    if kind == "paid" and with_receipt_code:
        return w.npgettext("telegram", "Receipt {reference}\n{quantity} vote for {code} {name} counted in {contest}. "
                                       "{provider} receipt: {receipt}. Thank you!",
                           "Receipt {reference}\n{quantity} votes for {code} {name} counted in {contest}. "
                           "{provider} receipt: {receipt}. Thank you!", quantity)
    if kind == "paid":
        return w.npgettext("telegram", "Receipt {reference}\n{quantity} vote for {code} {name} counted in {contest}. "
                                       "Thank you!",
                           "Receipt {reference}\n{quantity} votes for {code} {name} counted in {contest}. Thank you!",
                           quantity)
    if kind == "late":
        return w.npgettext("telegram", "Receipt {reference}\nThe lines had closed when your payment for {quantity} "
                                       "vote for {code} {name} reached us: it was not counted, and your payment is "
                                       "being refunded.",
                           "Receipt {reference}\nThe lines had closed when your payment for {quantity} votes for "
                           "{code} {name} reached us: they were not counted, and your payment is being refunded.",
                           quantity)
    if kind == "expired":
        return w.npgettext("telegram", "Receipt {reference}\nThe invoice for {quantity} vote for {code} {name} "
                                       "expired unpaid: no vote was counted.",
                           "Receipt {reference}\nThe invoice for {quantity} votes for {code} {name} expired unpaid: "
                           "no vote was counted.", quantity)
    return w.npgettext("telegram", "Receipt {reference}\nThe payment for {quantity} vote for {code} {name} failed: "
                                   "no vote was counted.",
                       "Receipt {reference}\nThe payment for {quantity} votes for {code} {name} failed: no vote was "
                       "counted.", quantity)


def my_votes_line(t: Texts, reference: str, quantity: int, code: str, name: str, status: str) -> str:
    return words(t).npgettext(
        "telegram", "{reference}: {quantity} vote for {code} {name} ({status})",
        "{reference}: {quantity} votes for {code} {name} ({status})", quantity,
    ).format(reference=reference, quantity=quantity, code=code, name=name, status=status)


def language_of(language_code: str | None, fallback: str = "fr") -> Lang:
    """The user's Telegram language where we have it ("fr-CA" → fr), else the fallback."""
    return Lang.parse((language_code or "")[:2].lower()) or Lang.parse(fallback) or Lang.FR


def own_language(language_code: str | None) -> str | None:
    """The user's Telegram language where a catalog has it, kept with their order for its receipt; None when
    we have no catalog for it (the receipt then speaks the contest's language)."""
    found = Lang.parse((language_code or "")[:2].lower())
    return found.value if found else None
