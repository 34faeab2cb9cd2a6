"""Whether every provider of a contest can charge its price, checked at the contest's save.

Each provider declares what it can charge (`Providers.charges`: a minimum, a maximum and a step in minor units, per
currency); a price one of them cannot charge would fail every order it is asked for (M-Pesa refused KES 10.50 at
each payment, "M-Pesa charges whole shillings only."), so it is refused here instead, naming the provider and the
nearest prices it can charge. Read by its declaration, never by its name. A provider paid in the chat is checked on
the contest's chat price (`stars_per_vote`, in its own currency), whatever providers the contest lists.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel.lists import format_list
from babel.numbers import get_currency_name

from gateway.core.contests.rules import STARS_CURRENCY
from gateway.core.errors import DomainError
from gateway.core.money import Chargeable, ChargeRange, minor_digits
from gateway.core.providers import Capability, Providers
from gateway.core.texts import babel_locale, format_money, translations


class PriceNotChargeable(DomainError):
    status = 400
    code = "price_not_chargeable"


def check_chargeable(price: int, currency: str, max_votes: int, chosen: Sequence[str], providers: Providers,
                     lang: str, stars_per_vote: int | None = None) -> None:
    """Raises PriceNotChargeable (on `price_per_vote`, or `stars_per_vote` for a provider paid in the chat) when one
    of the `chosen` providers cannot charge a vote at this price; the message is in `lang`."""
    for name in chosen:
        if Capability.IN_CHAT not in providers.capabilities(name):
            refusal = refusal_of(price, currency, max_votes, providers.label(name), providers.charges(name), lang)
            if refusal:
                raise PriceNotChargeable(refusal, field="price_per_vote")
    if stars_per_vote is not None:
        for name in providers.having(Capability.IN_CHAT):
            refusal = refusal_of(stars_per_vote, STARS_CURRENCY, max_votes, providers.label(name),
                                 providers.charges(name), lang)
            if refusal:
                raise PriceNotChargeable(refusal, field="stars_per_vote")


def refusal_of(price: int, currency: str, max_votes: int, label: str, declared: Chargeable,
               lang: str) -> str | None:
    """Why `label` cannot charge votes at `price` (minor units of `currency`), in `lang`; None when it can: one
    vote within its maximum, its largest order here within its minimum, every order a multiple of its step."""
    _ = translations(lang).gettext
    charged = declared.range_of(currency)
    if charged is None and declared.others is not None:  # it charges many currencies, not this one
        return _("{provider} does not charge {currency}.").format(provider=label, currency=currency.upper())
    if charged is None:
        return _("{provider} does not charge {currency}; it charges {currencies}.").format(
            provider=label, currency=currency.upper(), currencies=format_list(sorted(declared.currencies), locale=lang))
    if price % charged.step:
        prices = nearest_prices(price, charged, currency, lang)
        if charged.step == 10 ** minor_digits(currency):
            unit = get_currency_name(currency.upper(), count=2, locale=babel_locale(lang))
            return _("{provider} charges whole {unit}: {prices}.").format(provider=label, unit=unit, prices=prices)
        return _("{provider} charges multiples of {step}: {prices}.").format(
            provider=label, step=format_money(charged.step, currency, lang), prices=prices)
    if charged.most is not None and price > charged.most:
        return _("{provider} charges at most {most} a payment: {prices}.").format(
            provider=label, most=format_money(charged.most, currency, lang),
            prices=nearest_prices(price, charged, currency, lang))
    if price * max_votes < charged.least:
        least_price = -(-charged.least // max_votes)
        least_price += -least_price % charged.step
        return _("{provider} charges at least {least} a payment, more than the largest order here ({votes} votes): "
                 "a vote at {price} or more.").format(provider=label, least=format_money(charged.least, currency, lang),
                                                     votes=max_votes, price=format_money(least_price, currency, lang))
    return None


def nearest_prices(price: int, charged: ChargeRange, currency: str, lang: str) -> str:
    """`KES 10 or KES 11`: the prices nearest `price` that the provider can charge, as the language lists them."""
    return format_list([format_money(amount, currency, lang) for amount in charged.nearest(price)], style="or",
                       locale=lang)
