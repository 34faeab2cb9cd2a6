"""Which mobile-money operator a number belongs to, to mark the likely wallet on a phone channel's pay screen."""

from __future__ import annotations

from enum import StrEnum

import phonenumbers


class Operator(StrEnum):
    """The phone channels' payment options; values match the contest's provider names."""

    MTN = "mtn"
    ORANGE = "orange"
    MPESA = "mpesa"
    AIRTEL = "airtel"


CAMEROON = "+237"
# Cameroon's plan (9 local digits starting with 6), most specific prefix first. Explicit because the
# 65x and 68x blocks are split between the two operators and carrier data lags behind such splits.
CAMEROON_PREFIXES: tuple[tuple[str, Operator], ...] = (
    *((f"65{d}", Operator.MTN) for d in "01234"),
    *((f"65{d}", Operator.ORANGE) for d in "56789"),
    *((f"68{d}", Operator.MTN) for d in "01234"),
    *((f"68{d}", Operator.ORANGE) for d in "56789"),
    ("67", Operator.MTN),
    ("69", Operator.ORANGE),
)


def detect_operator(msisdn: str) -> Operator | None:
    """The operator of an E.164 number: Cameroon by prefix, elsewhere by phonenumbers' carrier data."""
    if msisdn.startswith(CAMEROON) and len(msisdn) == len(CAMEROON) + 9:
        local = msisdn.removeprefix(CAMEROON)
        return next((operator for prefix, operator in CAMEROON_PREFIXES if local.startswith(prefix)), None)
    return _by_carrier(msisdn)


# Where Vodacom's wallet is M-Pesa. Not South Africa: Vodacom closed M-Pesa there in 2016.
VODACOM_MPESA_REGIONS = frozenset({"TZ", "CD", "MZ", "LS"})


def _by_carrier(msisdn: str) -> Operator | None:
    # Imported at the first number outside Cameroon: the carrier tables take a tenth of a second of CPU and some MB
    # to load, in every process that lists the channels (workers, commands), where most never read a number.
    from phonenumbers import carrier

    try:
        number = phonenumbers.parse(msisdn, None)
    except phonenumbers.NumberParseException:
        return None
    name = carrier.name_for_number(number, "en").lower()
    if "mtn" in name:
        return Operator.MTN
    if "orange" in name:
        return Operator.ORANGE
    if "airtel" in name:
        return Operator.AIRTEL
    if "safaricom" in name:  # Kenya's and Ethiopia's M-Pesa
        return Operator.MPESA
    if "vodacom" in name and phonenumbers.region_code_for_number(number) in VODACOM_MPESA_REGIONS:
        return Operator.MPESA
    return None
