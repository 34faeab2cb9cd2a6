"""What a contest takes, in the page's words: its providers by name and its country's numbers. Said above the form's
phone field (a Kenyan page shows M-Pesa and a Kenyan number, never another market's) and as the refusal of a provider
the contest does not take, on the form and from the JSON API: the voter learns what works, not "try again later"."""

from __future__ import annotations

from collections.abc import Sequence

from channels.web.words import Words
from gateway.core.contests.catalog import PublicContest
from gateway.core.market import UnknownCountry, market_of
from gateway.core.providers import Capability, Providers
from gateway.core.texts import N_

MARKET_TEXTS: dict[str, str] = {
    "contest_takes": N_("This contest is paid by {providers}, numbers {prefix}."),
    "contest_takes_no_phone": N_("This contest is paid by {providers}."),
    "msisdn_hint_market": N_("For {providers}: the number that pays, e.g. {example}."),
    # Two or more names, the last one apart: "MTN MoMo or Orange Money", "M-Pesa, Airtel Money or Bank card".
    "either": N_("{first} or {last}"),
}


def either(tr: Words, names: Sequence[str]) -> str:
    if len(names) < 2:
        return "".join(names)
    return tr("either", first=", ".join(names[:-1]), last=names[-1])


def phone_providers(contest: PublicContest, providers: Providers) -> tuple[str, ...]:
    """The contest's providers that charge a phone's wallet, in its own order."""
    phone_paid = providers.having(Capability.PHONE_PROMPT)
    return tuple(p for p in contest.providers if p in phone_paid)


def contest_prefix(contest: PublicContest) -> str | None:
    try:
        return market_of(contest.country).prefix
    except UnknownCountry:
        return None


# The core's refusals a voter is answered with what the contest takes (its wallets, its country's numbers): a provider
# it does not take, a number of another country than its wallets'.
TAKES_CODES = ("provider_not_enabled", "number_not_served")


def contest_takes(tr: Words, contest: PublicContest, providers: Providers) -> str:
    """`This contest is paid by MTN Mobile Money or Orange Money, numbers +237.`: what works, and nothing after."""
    names = either(tr, [tr.provider(p, providers) for p in contest.providers])
    prefix = contest_prefix(contest)
    if phone_providers(contest, providers) and prefix:
        return tr("contest_takes", providers=names, prefix=prefix)
    return tr("contest_takes_no_phone", providers=names)


def example_number(country: str) -> str:
    """A mobile number as `country` writes it (`0712 123456` in Kenya), for a phone field's hint or placeholder: a
    voter types theirs the same way. Empty for a country we do not know, rather than another country's."""
    try:
        return market_of(country).example_number
    except UnknownCountry:
        return ""


def msisdn_hint(tr: Words, contest: PublicContest, providers: Providers) -> str:
    """The hint above the phone field: the contest's own phone providers and a number as its country writes it."""
    example = example_number(contest.country)
    names = either(tr, [tr.provider(p, providers) for p in phone_providers(contest, providers)])
    return tr("msisdn_hint_market", providers=names, example=example) if names else ""  # no phone wallet: no field
