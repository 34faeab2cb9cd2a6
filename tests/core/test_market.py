"""A contest's market, read from the libraries' data: a country's way of writing numbers, its clock and its money."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.core.errors import DomainError
from gateway.core.market import (
    UnknownCountry,
    checked_zone,
    countries,
    country_for_currency,
    local_moment,
    market_of,
    wall_clock,
    zone_abbreviation,
)
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.core.texts import Lang, format_date


def test_a_kenyan_number_is_read_as_kenyans_write_it_in_a_kenyan_contest() -> None:
    for typed in ("0712 000 102", "0712-000-102", "712000102", "+254 712 000 102", "254712000102"):
        assert normalise_msisdn(typed, "KE") == "+254712000102", typed
    with pytest.raises(InvalidMsisdn):
        normalise_msisdn("0712 000 102", "CM")  # what every contest did before it had a country
    assert normalise_msisdn("6 70 12 34 56", "CM") == "+237670123456"
    assert normalise_msisdn("+237670123456", "KE") == "+237670123456"  # any E.164 whatever the country


def test_each_country_says_how_its_numbers_look_its_clock_and_its_money() -> None:
    kenya, cameroon, congo = market_of("ke"), market_of("CM"), market_of("CD")
    assert (kenya.prefix, kenya.currency, kenya.time_zone, kenya.example_number) == (
        "+254", "KES", "Africa/Nairobi", "0712 123456")
    assert (cameroon.prefix, cameroon.currency, cameroon.time_zone) == ("+237", "XAF", "Africa/Douala")
    assert congo.time_zone == "Africa/Kinshasa" and "Africa/Lubumbashi" in congo.time_zones
    assert countries()[:2] == ("CM", "KE") and len(countries()) > 200
    with pytest.raises(UnknownCountry):
        market_of("XX")


def test_a_contest_without_a_country_takes_its_currency_s() -> None:
    assert [country_for_currency(c) for c in ("KES", "XAF", "XOF", "UGX", "NGN")] == ["KE", "CM", "CI", "UG", "NG"]


def test_times_are_typed_and_shown_on_the_contest_s_clock_with_its_name() -> None:
    closing = datetime(2026, 3, 5, 8, 53, tzinfo=UTC)
    assert format_date(closing, Lang.EN, "Africa/Nairobi") == "March 5, 2026 at 11:53 (EAT)"
    assert format_date(closing, Lang.SW, "Africa/Nairobi") == "5 Machi 2026 saa 11:53 (EAT)"
    assert format_date(closing, Lang.FR, "Africa/Douala") == "5 mars 2026 à 09:53 (WAT)"
    typed = local_moment(datetime(2026, 3, 5, 11, 53), "Africa/Nairobi")
    assert typed == closing and wall_clock(closing, "Africa/Nairobi") == "2026-03-05T11:53"
    assert zone_abbreviation(datetime(2026, 7, 1, tzinfo=UTC), "Europe/Paris") == "CEST"
    for bad in ("Mars/Olympus", "", "../etc/passwd", " Africa/Nairobi"):
        with pytest.raises(DomainError):
            checked_zone(bad)
