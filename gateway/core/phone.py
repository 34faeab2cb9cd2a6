"""Phone numbers: every MSISDN that crosses a boundary becomes E.164 here."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

# Cameroon first: the service is built for West and Central Africa; numbers typed without a
# country code are read as Cameroonian.
DEFAULT_REGION = "CM"
# E.164 caps a number at 15 digits, country code included. phonenumbers' metadata takes some longer national numbers as
# valid (Germany's fixed lines reach 14 digits after its 49): no wallet has one, and no column of ours holds one.
E164_MOST_DIGITS = 15


class InvalidMsisdn(ValueError):
    """Not a phone number we can charge."""


def normalise_msisdn(raw: str, default_region: str = DEFAULT_REGION) -> str:
    """Return `raw` as E.164 (`+237…`), accepting `+`, `00`, bare international or national forms."""
    return _normalised(str(raw), default_region)


# A vote reads its payer's number four or five times (its limits, its lock, its checks), and phonenumbers' parse is
# ~0.03 ms each: the answers are kept for the numbers seen lately (a refusal is not kept, it raises every time).
@lru_cache(maxsize=16384)
def _normalised(raw: str, default_region: str) -> str:
    cleaned = "".join(ch for ch in str(raw) if ch.isdigit() or ch == "+").strip()
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    candidates = [cleaned] if cleaned.startswith("+") else [cleaned, "+" + cleaned]
    for text in candidates:
        try:
            number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if len(e164) - 1 <= E164_MOST_DIGITS:
                return e164
    raise InvalidMsisdn(f"{raw!r} is not a valid phone number")


def msisdn_digits(e164: str) -> str:
    """The E.164 number without `+`, as MTN and Orange want it."""
    return e164.removeprefix("+")


def textable_in(e164: str, regions: frozenset[str]) -> bool:
    """Whether a number is a mobile of one of `regions` (ISO 3166 codes): where the service may text a code to a
    stranger's request. Not a premium or foreign line run up at the organiser's cost."""
    number = phonenumbers.parse(e164, None)
    kind = phonenumbers.number_type(number)
    return (phonenumbers.region_code_for_number(number) in regions
            and kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE))
