"""What a contest takes, as every phone channel tells a voter who cannot pay it the way they tried: its wallets by
name and its country's numbers ("Ce concours se paie par MTN MoMo ou Orange Money, numéros +237."), and nothing after,
for retrying never helps (and on a premium short code costs the voter each time). Said to a number of another
country than the contest's, to a network none of its providers serves, to a provider named that it does not take.
"Try again later" stays for a provider that is down for a while (`texts.refusal_message`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from channels.phone.texts import CATALOGS, provider_label, vote_messages
from gateway.core.contests.catalog import PublicContest
from gateway.core.market import UnknownCountry, market_of
from gateway.core.texts import Lang


def phone_providers(contest: PublicContest, phone_paid: Collection[str]) -> tuple[str, ...]:
    """The contest's providers that charge a phone's wallet (what a phone channel offers), in its own order."""
    return tuple(p for p in contest.providers if p in phone_paid)


def phone_labels(providers: Sequence[str], label_of: Callable[[str], str]) -> tuple[str, ...]:
    """Their names on a phone (`provider_label`): `label_of` is the provider's own label (the registry's)."""
    return tuple(provider_label(p, label_of(p)) for p in providers)


def either(lang: Lang, names: Sequence[str]) -> str:
    """`MTN MoMo or Orange Money`, `M-Pesa, Airtel Money or MTN MoMo`: the last one apart."""
    if len(names) < 2:
        return "".join(names)
    template = CATALOGS.translations(lang).pgettext("phone", "{first} or {last}")
    return template.format(first=", ".join(names[:-1]), last=names[-1])


def takes_message(lang: Lang, labels: Sequence[str], country: str) -> str:
    """What the contest takes: its wallets by name (GSM-7 safe already) and its country's prefix."""
    if not labels:
        return vote_messages(lang).no_payment
    try:
        prefix = market_of(country).prefix
    except UnknownCountry:
        prefix = ""
    t = CATALOGS.translations(lang)
    if not prefix:
        return t.pgettext("phone", "This contest is paid by {providers}.").format(providers=either(lang, labels))
    return t.pgettext("phone", "This contest is paid by {providers}, numbers {prefix}.").format(
        providers=either(lang, labels), prefix=prefix)
