"""What every phone channel says about a vote (USSD's last screen, SMS replies next): the messages of the catalogs'
"phone" context, payment names and amounts, all GSM-7 (tests/channels/phone/test_phone_texts.py checks every language's
translations): French keeps GSM-7's accents (é è à ù É) and writes the others plain, the README's "Texts"; names from
the database are plain ASCII (gsm7.transliterate)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from babel.numbers import get_currency_symbol

from channels.phone.gsm7 import clip, is_gsm7, texted, transliterate
from gateway.core.contests.rules import VotingState
from gateway.core.providers import Approval
from gateway.core.texts import Lang, TextDomain, format_money, money_locale

# The texts of what every phone channel says: the `phone` domain of the catalogs in locales/ beside this module.
CATALOGS = TextDomain("phone", Path(__file__).parent / "locales")

CONTEST_WIDTH = 40  # a contest's name in a message, at most
PROVIDER_WIDTH = 20  # a provider's name on a screen, at most


# Kept for the amounts written lately: Babel's formatting (its pattern parsed, its locale data looked up on every call)
# was most of a USSD screen's cost, and a show's screens write the same few amounts (a vote's price times a quantity).
@functools.lru_cache(maxsize=4096)
def texted_money(amount: int, currency: str, lang: Lang) -> str:
    """An amount as every channel writes it (`format_money`: `Ksh 30.00`, `300 FCFA`, `FCFA 300`), as a phone gets it:
    its no-break spaces written plain (GSM-7 has none: one would make the message UCS-2), and a symbol GSM-7 lacks
    (`₦`, `GH₵`) given way to the currency's code (`NGN 500.00`) rather than dropped."""
    shown = format_money(amount, currency, lang)
    spaced = texted(shown)
    if is_gsm7("".join(ch for ch in shown if not ch.isspace())):
        return spaced
    code = currency.upper()
    symbol = texted(get_currency_symbol(code, money_locale(lang, code)))
    number = spaced.replace(symbol, "").strip()
    return f"{code} {number}" if spaced.startswith(symbol) else f"{number} {code}"


@dataclass(frozen=True)
class VoteMessages:
    """One language's messages; `{…}` fields are filled by the channel."""

    no_payment: str
    closed: str  # {contest}
    paused: str  # {contest}
    not_open: str  # {contest}
    blocked: str
    rate_limited: str
    candidate_gone: str
    provider_down: str
    cannot_pay: str
    refused: str
    unavailable: str


@functools.cache
def vote_messages(lang: Lang) -> VoteMessages:
    t = CATALOGS.translations(lang)
    return VoteMessages(
        no_payment=t.pgettext("phone", "Mobile money payment is not available for this contest."),
        closed=t.pgettext("phone", "Voting for {contest} has closed. Thank you!"),
        paused=t.pgettext("phone", "Voting for {contest} is paused. Please try again later."),
        not_open=t.pgettext("phone", "Voting for {contest} has not opened yet."),
        blocked=t.pgettext("phone", "This number cannot vote. Contact the organiser if this is a mistake."),
        rate_limited=t.pgettext("phone", "Vote limit reached for this number. Please try again later."),
        candidate_gone=t.pgettext("phone", "This candidate can no longer receive votes."),
        provider_down=t.pgettext("phone", "This payment method is unavailable. Please try again later."),
        cannot_pay=t.pgettext("phone", "This number cannot pay by mobile money."),
        refused=t.pgettext("phone", "Your vote cannot be placed right now. Please try again later."),
        unavailable=t.pgettext("phone", "Service temporarily unavailable. Please try again shortly."),
    )


def provider_label(provider: str, own_label: str) -> str:
    """A provider's name on a phone's screen: its own label (`ProviderParts.label`, as its payers know it), in GSM-7
    and short; its name where it has none."""
    return clip(transliterate(own_label) or provider, PROVIDER_WIDTH)


def placed_message(lang: Lang, quantity: int, amount: int, currency: str, label: str, reference: str,
                   approval: Approval = Approval.MENU_APPROVAL) -> str:
    """A vote is ordered: what the voter does on the operator's own prompt (we never ask for the PIN). A prompt that
    asks for the PIN and is gone once closed (M-Pesa's) is told as such; another is approved, or found in the
    wallet's menu. `label`: the provider's name on the phone (`provider_label`)."""
    t = CATALOGS.translations(lang)
    if approval is Approval.PIN_PROMPT:
        # Limit: 156 (USSD's last screen, after "END ")
        template = t.npgettext(
            "phone", "Thank you! Enter your {provider} PIN on the prompt on your phone to pay {total} and count your "
                     "{quantity} vote. Ref {ref}",
            "Thank you! Enter your {provider} PIN on the prompt on your phone to pay {total} and count your "
            "{quantity} votes. Ref {ref}", quantity)
    else:
        # Limit: 156 (USSD's last screen, after "END ")
        template = t.npgettext(
            "phone", "Thank you! Approve the payment of {total} on your phone ({provider}) to count your {quantity} "
                     "vote. Ref {ref}",
            "Thank you! Approve the payment of {total} on your phone ({provider}) to count your {quantity} votes. "
            "Ref {ref}", quantity)
    return template.format(total=texted_money(amount, currency, lang), quantity=quantity,
                           provider=label, ref=reference)


def ranking_line(lang: Lang, rank: int, code: str, name: str, votes: int | None) -> str:
    """One line of a board's ranking on a phone, "1. 07 Grace Ndongo: 12": the rank and the candidate's code apart
    (glued, "1.07" reads as one number), the count after the name; without it where the board hides counts. `name`
    is already GSM-7 safe and clipped to its room."""
    t = CATALOGS.translations(lang)
    if votes is None:
        # Limit: 40 (a line of the USSD Top 5: the name clipped to fit the screen)
        line = t.pgettext("phone", "{rank}. {code} {name}")
    else:
        # Limit: 50 (a line of the USSD Top 5: the name clipped to fit the screen)
        line = t.pgettext("phone", "{rank}. {code} {name}: {votes}")
    return " ".join(line.format(rank=rank, code=code, name=name, votes=votes).split())


def unavailable_message(lang: Lang, state: VotingState, contest_name: str) -> str:
    """Why a contest takes no vote now. A paused one says so: a viewer told "closed" does not come back when the
    organiser resumes it."""
    m = vote_messages(lang)
    message = {VotingState.PAUSED: m.paused, VotingState.NOT_YET: m.not_open}.get(state, m.closed)
    return message.format(contest=clip(contest_name, CONTEST_WIDTH))


def refusal_message(lang: Lang, code: str, contest_name: str, voting: VotingState = VotingState.CLOSED,
                    takes: str | None = None) -> str:
    """A vote the core refused, by the error's stable code; `contest_name` is already GSM-7 safe. The core gives
    one code to a paused contest and one not open yet: `voting`, the contest's state as the channel read it,
    tells them apart. `takes`: what the contest takes (`contest_takes.takes_message`), the whole answer to a provider
    it does not take; "try again later" is only for one that is down."""
    m = vote_messages(lang)
    if code == "provider_not_enabled" and takes:
        return takes
    if code == "contest_closed":
        return m.closed.format(contest=clip(contest_name, CONTEST_WIDTH))
    if code in ("contest_not_open", "contest_not_found"):
        return unavailable_message(lang, voting, contest_name)
    return {
        "msisdn_blocked": m.blocked, "rate_limited": m.rate_limited,
        "candidate_not_found": m.candidate_gone, "candidate_not_active": m.candidate_gone,
        "provider_unavailable": m.provider_down, "provider_not_enabled": m.no_payment,
        "payment_unavailable": m.provider_down, "msisdn_required": m.cannot_pay, "invalid_msisdn": m.cannot_pay,
    }.get(code, m.refused)
