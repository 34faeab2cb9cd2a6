"""Every word of the USSD menu, from the "ussd" domain's catalogs (channels/ussd/locales); what any phone
channel says about a vote is in channels/phone/texts.py. Each text must stay GSM-7 (channels/phone/gsm7.py):
French keeps GSM-7's accents (é è à ù É) and writes the others plain (ê -> e, ç -> c), docs/texts.md;
tests/channels/phone/test_phone_texts.py checks every language's translations and their room on a screen."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from channels.phone.receipt_texts import reason_code
from gateway.core.texts import Lang, TextDomain

# The texts of the USSD menus: the `ussd` domain of the catalogs in locales/ beside this module.
CATALOGS = TextDomain("ussd", Path(__file__).parent / "locales")


@dataclass(frozen=True)
class Texts:
    """One language's menu strings; `{…}` fields are filled by screens.py. A text that says a count has its plural
    forms from the catalog (`votes`, `paid_votes`, …: "1 vote", "2 votes", "kura 2")."""

    lang: Lang
    home: tuple[str, ...]
    choose_contest: str
    enter_code: str
    more: str
    back: str
    back_home: str
    quantity: str  # {maximum}
    price: str
    your_network: str
    summary: str
    total: str
    payment: str
    confirm: str
    top_title: str
    top_empty: str
    top_hidden: str
    mine_empty: str
    statuses: dict[str, str]
    language_title: str
    # Reasons for re-asking (one line, at most 31 characters with their values).
    invalid_choice: str
    empty: str
    not_a_code: str
    unknown_code: str
    eliminated: str
    not_a_number: str
    too_few: str
    no_more: str
    too_many_errors: str  # {service_code}
    unknown_service: str


@functools.cache
def texts(lang: Lang) -> Texts:
    t = CATALOGS.translations(lang)
    return Texts(
        lang=lang,
        home=(t.pgettext("ussd", "1 Vote"), t.pgettext("ussd", "2 Top 5"), t.pgettext("ussd", "3 My votes"),
              t.pgettext("ussd", "4 Language/Langue/Lugha")),
        choose_contest=t.pgettext("ussd", "Choose a contest:"),
        enter_code=t.pgettext("ussd", "Enter the candidate code:"),
        more=t.pgettext("ussd", "98 More"),
        back=t.pgettext("ussd", "0 Back"),
        back_home=t.pgettext("ussd", "0 Back 00 Home"),
        quantity=t.pgettext("ussd", "How many votes (1-{maximum})?"),
        price=t.pgettext("ussd", "Price: {price}/vote"),
        your_network=t.pgettext("ussd", " (your network)"),
        summary=t.pgettext("ussd", "Confirm your vote:"),
        total=t.pgettext("ussd", "Total: {total}"),
        payment=t.pgettext("ussd", "Payment: {provider}"),
        confirm=t.pgettext("ussd", "1 Confirm"),
        top_title=t.pgettext("ussd", "Top 5 - {contest}"),
        top_empty=t.pgettext("ussd", "No votes yet."),
        top_hidden=t.pgettext("ussd", "Board hidden until the results."),
        mine_empty=t.pgettext("ussd", "No votes from this number yet."),
        statuses={"paid": t.pgettext("ussd", "counted"), "pending": t.pgettext("ussd", "pending"),
                  "failed": t.pgettext("ussd", "failed"), "expired": t.pgettext("ussd", "expired"),
                  "flagged": t.pgettext("ussd", "in review"), "refund_requested": t.pgettext("ussd", "refunded"),
                  "refunded": t.pgettext("ussd", "refunded"),
                  "late": t.pgettext("ussd", "refunded")},
        language_title=t.pgettext("ussd", "Language / Langue / Lugha:"),
        # Limit: 31 characters with its values, on one line above the question asked again.
        invalid_choice=t.pgettext("ussd", "Invalid choice."),
        # Limit: 31 characters with its values, on one line above the question asked again.
        empty=t.pgettext("ussd", "You entered nothing."),
        # Limit: 31 characters with its values, on one line above the question asked again.
        not_a_code=t.pgettext("ussd", "Type the code in digits."),
        # Limit: 31 characters with its values, on one line above the question asked again.
        unknown_code=t.pgettext("ussd", "Unknown code {code}."),
        # Limit: 31 characters with its values, on one line above the question asked again.
        eliminated=t.pgettext("ussd", "{code} is out of the contest."),
        # Limit: 31 characters with its values, on one line above the question asked again.
        not_a_number=t.pgettext("ussd", "Type a number."),
        # Limit: 31 characters with its values, on one line above the question asked again.
        too_few=t.pgettext("ussd", "At least 1 vote."),
        # Limit: 31 characters with its values, on one line above the question asked again.
        no_more=t.pgettext("ussd", "No more pages."),
        too_many_errors=t.pgettext("ussd", "Too many wrong answers. Dial {service_code} again to retry. Goodbye!"),
        unknown_service=t.pgettext("ussd", "This code matches no vote."),
    )


def pay_with(t: Texts, quantity: int, total: str) -> str:
    return CATALOGS.translations(t.lang).npgettext(
        "ussd", "{quantity} vote = {total}\nPay with:", "{quantity} votes = {total}\nPay with:", quantity,
    ).format(quantity=quantity, total=total)


def tier_line(t: Texts, votes: int, amount: str) -> str:
    """A bundle on the quantity screen: "10 votes: 900 FCFA" (the voter types its number of votes)."""
    return CATALOGS.translations(t.lang).npgettext(
        "ussd", "{quantity} vote: {total}", "{quantity} votes: {total}", votes).format(quantity=votes, total=amount)


def summary_line(t: Texts, quantity: int, code: str, name: str) -> str:
    return CATALOGS.translations(t.lang).npgettext(
        "ussd", "{quantity} vote for {code} {name}", "{quantity} votes for {code} {name}", quantity,
    ).format(quantity=quantity, code=code, name=name)


def mine_title(t: Texts, paid: int) -> str:
    return CATALOGS.translations(t.lang).npgettext(
        "ussd", "My votes: {paid} counted", "My votes: {paid} counted", paid).format(paid=paid)


def mine_pending(t: Texts, pending: int) -> str:
    return CATALOGS.translations(t.lang).npgettext(
        "ussd", "{pending} payment pending", "{pending} payments pending", pending).format(pending=pending)


def too_many(t: Texts, maximum: int) -> str:
    # Limit: 31 characters with its values, on one line above the question asked again.
    return CATALOGS.translations(t.lang).npgettext(
        "ussd", "At most {maximum} vote.", "At most {maximum} votes.", maximum).format(maximum=maximum)


def failed_because(t: Texts, reason: str | None) -> str:
    """Why an order failed, in a few words for My votes (the provider's code never shows)."""
    words = CATALOGS.translations(t.lang)
    short = {
        "APPROVAL_REJECTED": words.pgettext("ussd", "declined"), "CANCELLED": words.pgettext("ussd", "cancelled"),
        "EXPIRED": words.pgettext("ussd", "not approved"),
        "COULD_NOT_PERFORM_TRANSACTION": words.pgettext("ussd", "not approved"),
        "PHONE_NOT_REACHED": words.pgettext("ussd", "phone unreachable"),
        "NOT_ENOUGH_FUNDS": words.pgettext("ussd", "not enough money"),
        "WRONG_PIN": words.pgettext("ussd", "wrong PIN"),
        "PAYER_NOT_FOUND": words.pgettext("ussd", "no wallet"),
        "PAYER_LIMIT_REACHED": words.pgettext("ussd", "limit reached"),
        "PROMPT_PENDING": words.pgettext("ussd", "other prompt open"),
        "AMOUNT_BELOW_MINIMUM": words.pgettext("ussd", "amount too low"),
        "PAYMENT_REFUSED": words.pgettext("ussd", "refused"),
        "INTERNAL_PROCESSING_ERROR": words.pgettext("ussd", "operator error"),
    }.get(reason_code(reason))
    # Limit: 40 (a line of My votes: the candidate's name is clipped to fit the screen)
    return (words.pgettext("ussd", "failed: {why}").format(why=short) if short
            else words.pgettext("ussd", "failed"))


# Each language in its own words, whatever the screen's language; the menu's entry to them names all three
# (a Swahili speaker finds it on a French screen).
LANGUAGE_OPTIONS = (("1", Lang.FR, "1 Francais"), ("2", Lang.EN, "2 English"), ("3", Lang.SW, "3 Kiswahili"))
# Before a contest is known (an unknown code), every language at once.
UNKNOWN_SERVICE = " / ".join(texts(lang).unknown_service for lang in Lang)
