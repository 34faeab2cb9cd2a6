"""What the contest form offers, fitted to the contest's market: the providers by name (those that take the
contest's currency pre-selected on a new contest), the voters' languages by name, each country's currency and zones
for the form's script (admin/static/market.js), and the refusal of a provider that does not take the currency.

Which currencies a provider takes is its own declaration (`Providers.charges`, read by the registry from its parts),
never its name: a phone's wallet that takes the currency is pre-selected, as the new form always did for the phone's
wallets."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from babel import Locale
from babel.lists import format_list

from admin import money_fields, texts
from admin.web import contest_settings, provider_names
from gateway.core.contests.contest_drafts import ContestDraft, parse_contest
from gateway.core.errors import DomainError, FieldErrors, raise_all
from gateway.core.market import DEFAULT_COUNTRY, UnknownCountry, countries, market_of
from gateway.core.providers import Capability, Providers
from gateway.core.texts import LANGUAGES
from gateway.kit.keys import PROVIDERS

SCRIPT = (Path(__file__).parent / "static" / "market.js").read_text()


@dataclass(frozen=True)
class ProviderChoice:
    name: str  # what the form posts and the contest keeps
    label: str  # its name in the organiser's language
    takes: str  # the currencies it takes, space-separated, or "*" for any (the form's script reads it)
    prompts: bool  # a phone's wallet: pre-selected on a new contest where it takes the currency


def takes_currency(providers: Providers, name: str, currency: str) -> bool:
    return providers.charges(name).range_of(currency) is not None


def taken_currencies(providers: Providers, name: str) -> str:
    declared = providers.charges(name)
    return "*" if declared.others is not None else " ".join(sorted(declared.currencies))


def provider_label(providers: Providers, name: str, lang: str) -> str:
    """The provider's name as payers know it (its parts' label), in the organiser's language where it differs."""
    return str(texts.CATALOGS.translations(lang).gettext(providers.label(name)))


def provider_choices(providers: Providers, lang: str) -> list[ProviderChoice]:
    return [ProviderChoice(name, provider_label(providers, name, lang), taken_currencies(providers, name),
                           Capability.PHONE_PROMPT in providers.capabilities(name)) for name in providers.names()]


def preselected(providers: Providers, currency: str) -> list[str]:
    """A new contest's providers: the phone's wallets that take its currency."""
    return [name for name in providers.having(Capability.PHONE_PROMPT) if takes_currency(providers, name, currency)]


def language_name(code: str) -> str:
    """A voters' language as its speakers write it: Français, English, Kiswahili."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def language_choices() -> list[tuple[str, str]]:
    return [(lang.value, language_name(lang.value)) for lang in LANGUAGES]


def new_contest_market(asked: str | None) -> tuple[str, str, str]:
    """A new contest's country (`?country=` where it is one, else the default), its currency and its main zone."""
    try:
        market = market_of(asked or DEFAULT_COUNTRY)
    except UnknownCountry:
        market = market_of(DEFAULT_COUNTRY)
    return market.country, market.currency, market.time_zone


@functools.cache
def markets_json() -> str:
    """Every country's currency and zones, for the form's script: a country chosen fills in both."""
    return json.dumps({code: [market_of(code).currency, list(market_of(code).time_zones)] for code in countries()},
                      separators=(",", ":"))


def currency_refusals(form: Mapping[str, Any], currency: str, providers: Providers, lang: str) -> list[DomainError]:
    """A refusal on `providers` for each chosen provider that does not take `currency`, naming the currencies it
    takes (the same words as the price check's, `gateway.core.contests.chargeable_prices`)."""
    chosen = form.get("providers")
    names: Sequence[Any] = chosen if isinstance(chosen, list) else str(chosen or "").split(",")
    known = set(providers.names())
    _ = texts.gettext_for(lang)
    refusals = []
    for name in dict.fromkeys(str(item).strip() for item in names):
        if name in known and not takes_currency(providers, name, currency):
            taken = format_list(sorted(providers.charges(name).currencies), locale=lang)
            refusals.append(DomainError(
                _("{provider} does not take {currency}: it takes {currencies}.",
                  provider=provider_label(providers, name, lang), currency=currency, currencies=taken),
                code="currency_not_taken", field="providers"))
    return refusals


def checked_contest(request: web.Request, form: Mapping[str, Any], *, typed_in_major: bool) -> ContestDraft:
    """The contest a form or an API body describes, or one FieldErrors with every field it got wrong: the fields
    (`typed_in_major`: a page's price, in major units), each provider that does not take the currency, and, once
    all else is right, whether its providers can charge its price."""
    lang = texts.language_of(request)
    errors: list[DomainError] = []
    fields = dict(form)
    if typed_in_major:
        try:
            fields = money_fields.price_in_minor(form, lang)
        except DomainError as exc:
            errors.append(exc)
            fields["price_per_vote"] = 1  # stands in for the price refused above, not read twice
    draft = None
    try:
        draft = parse_contest(fields, contest_settings(request), providers=provider_names(request))
    except FieldErrors as exc:
        errors.extend(exc.errors)
    except DomainError as exc:
        errors.append(exc)
    currency = money_fields.known_currency(form.get("currency"))
    if currency is not None:
        errors.extend(currency_refusals(form, currency, request.app[PROVIDERS], lang))
    raise_all(errors)
    assert draft is not None  # no error: it was read
    money_fields.check_prices(request, draft)
    return draft
