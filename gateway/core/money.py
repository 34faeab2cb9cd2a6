"""Money: we keep integers in the currency's minor units; providers speak decimal strings in major
units, voters read them formatted. One table of minor-unit digits for every channel and provider."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import (
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
    Underflow,
    getcontext,
    localcontext,
)

from babel.numbers import get_currency_precision, list_currencies

# Not in ISO 4217: Orange's dev environment takes only its own test currency, without cents.
TEST_CURRENCIES = {"OUV": 0}
KNOWN_CURRENCIES = frozenset(list_currencies())
MAX_MINOR = 2**63  # PostgreSQL's bigint: anything larger is not an amount
# What from_major traps (nothing rounded away in silence), every other signal off; a dict of traps names them all.
AMOUNT_TRAPS = {signal: signal in (InvalidOperation, Overflow, Underflow, Inexact) for signal in getcontext().traps}


class UnknownCurrency(ValueError):
    """A code that is no currency we can count in: nothing is sent or shown as if it had cents or not."""


@functools.lru_cache(maxsize=64)
def minor_digits(currency: str) -> int:
    """Digits after the decimal point: XAF and XOF 0, EUR 2. Babel's CLDR data, which is ISO 4217's
    exponent for every currency our providers take (CLDR drops unused cents of a few others, e.g. IQD)."""
    code = currency.upper()
    if code in TEST_CURRENCIES:
        return TEST_CURRENCIES[code]
    if code not in KNOWN_CURRENCIES:
        raise UnknownCurrency(f"unsupported currency {currency!r}")
    return get_currency_precision(code)


def to_major_string(amount: int, currency: str) -> str:
    """500 XAF -> "500"; 150 EUR cents -> "1.50"."""
    places = minor_digits(currency)
    value = Decimal(amount).scaleb(-places)
    return f"{value:.{places}f}"


def money_text(amount: object, currency: object) -> str:
    """A sum in a reason a person reads (the review queue, an order's page, an export): in major units with its
    code, "30.50 KES", "500 XAF"; a sum or code that is not one as it came (an old row's, a provider's odd word)."""
    if isinstance(amount, int) and not isinstance(amount, bool) and isinstance(currency, str):
        try:
            return f"{to_major_string(amount, currency)} {currency.upper()}"
        except UnknownCurrency:
            pass
    return f"{amount} {currency}"


def from_major(value: str | int | float, currency: str) -> int:
    """ "500" XAF -> 500; "1.5" EUR -> 150. Raises ValueError for anything not a whole minor amount."""
    places = minor_digits(currency)
    try:  # nothing rounded away in silence: "1e-2000000" is not 0, "1e999999" not a number to store
        with localcontext(traps=AMOUNT_TRAPS):
            minor = Decimal(str(value)).scaleb(places)
    except DecimalException as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not minor.is_finite() or abs(minor) >= MAX_MINOR:  # "NaN", "1e999999": no amount a provider took
        raise ValueError(f"not an amount: {value!r}")
    if minor != minor.to_integral_value():
        raise ValueError(f"{value!r} {currency} is not a whole number of minor units")
    return int(minor)


@dataclass(frozen=True)
class ChargeRange:
    """The amounts a provider can charge in one currency, in its minor units: from `least` to `most` (None: it
    publishes no ceiling), each a multiple of `step` (M-Pesa's whole shillings: 100 cents)."""

    least: int = 1
    most: int | None = None
    step: int = 1

    def takes(self, amount: int) -> bool:
        return amount >= self.least and (self.most is None or amount <= self.most) and amount % self.step == 0

    def nearest(self, amount: int) -> tuple[int, ...]:
        """The amounts it can charge nearest `amount`: the one below and the one above, within its range."""
        first = self.least + (-self.least) % self.step  # its smallest multiple of the step
        last = None if self.most is None else self.most - self.most % self.step
        below = amount - amount % self.step
        picks: list[int] = []
        for candidate in (below, below if below == amount else below + self.step):
            kept = max(candidate, first) if last is None else min(max(candidate, first), last)
            if kept not in picks:
                picks.append(kept)
        return tuple(picks)


@dataclass(frozen=True)
class Chargeable:
    """What a provider declares it can charge (its parts' `charges`): a range in each currency it names, and
    `others` for any other currency (None: it charges none). The core and the admin area read this, never a
    provider's name: a contest's price is refused at its save when one of its providers cannot charge it."""

    currencies: Mapping[str, ChargeRange] = field(default_factory=dict)
    others: ChargeRange | None = ChargeRange()
    refused: frozenset[str] = frozenset()  # taken by none of its `others` (a currency its API counts otherwise)

    def range_of(self, currency: str) -> ChargeRange | None:
        if currency.upper() in self.refused:
            return None
        return self.currencies.get(currency.upper(), self.others)
