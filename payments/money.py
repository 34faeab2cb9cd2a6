"""Amounts on the wire: providers speak decimal strings in major units; we keep integers in
the currency's minor units (ISO 4217 exponent: XAF and XOF have none, EUR has two)."""

from __future__ import annotations

from decimal import Decimal, DecimalException, Inexact, InvalidOperation, Overflow, Underflow, localcontext

EXPONENTS = {"XAF": 0, "XOF": 0, "GNF": 0, "RWF": 0, "UGX": 0, "EUR": 2, "USD": 2, "GHS": 2, "NGN": 2,
             "ZMW": 2, "OUV": 0}


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency.upper()]
    except KeyError as exc:
        raise ValueError(f"unsupported currency {currency!r}") from exc


def to_major_string(amount: int, currency: str) -> str:
    """500 XAF -> "500"; 150 EUR cents -> "1.50"."""
    places = exponent(currency)
    value = Decimal(amount).scaleb(-places)
    return f"{value:.{places}f}"


MAX_MINOR = 2**63  # PostgreSQL's bigint: anything larger is not an amount


def from_major(value: str | int | float, currency: str) -> int:
    """ "500" XAF -> 500; "1.5" EUR -> 150. Raises ValueError for anything not a whole minor amount."""
    places = exponent(currency)
    try:  # nothing rounded away in silence: "1e-2000000" is not 0, "1e999999" not a number to store
        with localcontext(traps=[InvalidOperation, Overflow, Underflow, Inexact]):
            minor = Decimal(str(value)).scaleb(places)
    except DecimalException as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not minor.is_finite() or abs(minor) >= MAX_MINOR:  # "NaN", "1e999999": no amount a provider took
        raise ValueError(f"not an amount: {value!r}")
    if minor != minor.to_integral_value():
        raise ValueError(f"{value!r} {currency} is not a whole number of minor units")
    return int(minor)
