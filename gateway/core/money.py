"""Money: we keep integers in the currency's minor units; providers speak decimal strings in major
units, voters read them formatted. One table of minor-unit digits for every channel and provider."""

from __future__ import annotations

import functools
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
