"""A whole number a person typed (an amount in minor units, a count, basis points), checked by one rule: ASCII
digits and nothing else, within bounds that fit the column it goes to. Python's `int()` reads far more than a
person means to type ("١٠٠", "1_00", "+100" and " 100 " are all 100 to it) and `str.isdigit()` lets
superscripts through that `int()` then refuses; a number past PostgreSQL's bigint reaches the database and fails
there. Each is refused here with the field's name instead. A JSON body may send the number itself (an int, never
a bool or a float)."""

from __future__ import annotations

from gateway.core.errors import DomainError

BIGINT_MAX = 2**63 - 1  # PostgreSQL's bigint: amounts in minor units
INTEGER_MAX = 2**31 - 1  # PostgreSQL's integer: counts, basis points
ASCII_DIGITS = frozenset("0123456789")


def entered_whole(value: object, field: str, *, low: int = 0, high: int = BIGINT_MAX,
                  label: str | None = None) -> int:
    """`value` as a whole number from `low` to `high`, or a DomainError naming `field` (`label` is how the
    message calls it). Only digits 0-9: no sign, space, underscore or other script's digits."""
    name = label or field
    out_of_bounds = DomainError(f"{name} must be between {low} and {high}.", code="invalid_field", field=field)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value and set(value) <= ASCII_DIGITS:
        significant = value.lstrip("0")  # int() refuses a string past 4,300 digits, zeros included
        if len(significant) > len(str(high)):  # too long to be in bounds: no need to read it
            raise out_of_bounds
        number = int(significant or "0")
    elif isinstance(value, str) and value[:1] == "-" and value[1:] and set(value[1:]) <= ASCII_DIGITS:
        raise out_of_bounds  # below 0: the bounds say more than "digits only" would
    else:
        raise DomainError(f"{name} must be a whole number, in digits 0-9.", code="invalid_field", field=field)
    if not low <= number <= high:
        raise out_of_bounds
    return number
