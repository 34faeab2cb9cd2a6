"""Every word of the USSD menu, from the "ussd" domain's catalogs (channels/ussd/locales); what any phone
channel says about a vote is in channels/phone/texts.py. Each text must stay GSM-7 (channels/phone/gsm7.py):
French keeps GSM-7's accents (é è à ù É) and writes the others plain (ê -> e, ç -> c), the README's "Texts";
tests/phone/test_phone_texts.py checks every language's translations and their room on a screen."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from gateway.core.texts import Lang, TextDomain

# The texts of the USSD menus: the `ussd` domain of the catalogs in locales/ beside this module.
CATALOGS = TextDomain("ussd", Path(__file__).parent / "locales")


@dataclass(frozen=True)
class Texts:
    """One language's menu strings; `{…}` fields are filled by screens.py."""

    home: tuple[str, ...]
    choose_contest: str
    enter_code: str
    more: str
    back: str
    back_home: str
    quantity: str  # {maximum}
    price: str
    pay_with: str  # {quantity} {total}
    your_network: str
    summary: str
    summary_line: str  # {quantity} {code} {name}
    total: str
    payment: str
    confirm: str
    top_title: str
    top_empty: str
    top_hidden: str
    mine_title: str  # {paid}
    mine_pending: str  # {pending}
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
    too_many: str
    no_more: str
    too_many_errors: str  # {service_code}
    unknown_service: str


@functools.cache
def texts(lang: Lang) -> Texts:
    t = CATALOGS.translations(lang)
    return Texts(
        home=(t.pgettext("ussd", "1 Vote"), t.pgettext("ussd", "2 Top 5"), t.pgettext("ussd", "3 My votes"),
              t.pgettext("ussd", "4 Language/Langue/Lugha")),
        choose_contest=t.pgettext("ussd", "Choose a contest:"),
        enter_code=t.pgettext("ussd", "Enter the candidate code:"),
        more=t.pgettext("ussd", "98 More"),
        back=t.pgettext("ussd", "0 Back"),
        back_home=t.pgettext("ussd", "0 Back 00 Home"),
        quantity=t.pgettext("ussd", "How many votes (1-{maximum})?"),
        price=t.pgettext("ussd", "Price: {price}/vote"),
        pay_with=t.pgettext("ussd", "{quantity} vote(s) = {total}\nPay with:"),
        your_network=t.pgettext("ussd", " (your network)"),
        summary=t.pgettext("ussd", "Confirm your vote:"),
        summary_line=t.pgettext("ussd", "{quantity} vote(s) for {code} {name}"),
        total=t.pgettext("ussd", "Total: {total}"),
        payment=t.pgettext("ussd", "Payment: {provider}"),
        confirm=t.pgettext("ussd", "1 Confirm"),
        top_title=t.pgettext("ussd", "Top 5 - {contest}"),
        top_empty=t.pgettext("ussd", "No votes yet."),
        top_hidden=t.pgettext("ussd", "Board hidden until the results."),
        mine_title=t.pgettext("ussd", "My votes: {paid} counted"),
        mine_pending=t.pgettext("ussd", "{pending} payment(s) pending"),
        mine_empty=t.pgettext("ussd", "No votes from this number yet."),
        statuses={"paid": t.pgettext("ussd", "counted"), "pending": t.pgettext("ussd", "pending"),
                  "failed": t.pgettext("ussd", "failed"), "expired": t.pgettext("ussd", "expired"),
                  "flagged": t.pgettext("ussd", "in review"), "refund_requested": t.pgettext("ussd", "refunded"),
                  "refunded": t.pgettext("ussd", "refunded")},
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
        too_many=t.pgettext("ussd", "At most {maximum} votes."),
        # Limit: 31 characters with its values, on one line above the question asked again.
        no_more=t.pgettext("ussd", "No more pages."),
        too_many_errors=t.pgettext("ussd", "Too many wrong answers. Dial {service_code} again to retry. Goodbye!"),
        unknown_service=t.pgettext("ussd", "This code matches no vote."),
    )


# Each language in its own words, whatever the screen's language; the menu's entry to them names all three
# (a Swahili speaker finds it on a French screen).
LANGUAGE_OPTIONS = (("1", Lang.FR, "1 Francais"), ("2", Lang.EN, "2 English"), ("3", Lang.SW, "3 Kiswahili"))
# Before a contest is known (an unknown code), every language at once.
UNKNOWN_SERVICE = " / ".join(texts(lang).unknown_service for lang in Lang)
