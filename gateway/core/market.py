"""A contest's market: the country its audience is in, and what follows from it (the way its people write a phone
number, its clocks, its money). A contest keeps its country (ISO 3166-1 alpha-2) and its time zone (an IANA name);
everything else is read from the data the libraries keep (phonenumbers' metadata, Babel's CLDR, the tz database), so
every country a contest can be in is served the same way, none by a table of ours.

Times are stored in UTC and shown, and typed by an organiser, in the contest's zone; the zone's name shown beside a
time is the tz database's abbreviation for that moment (EAT, WAT, CAT; "+03" where the database has none)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from babel.core import get_global
from babel.numbers import get_territory_currencies

from gateway.core.errors import DomainError

# The countries a contest is set in most, first in the organiser's list: where the service's providers take money.
FIRST_COUNTRIES = ("CM", "KE", "CI", "SN", "NG", "GH", "UG", "TZ", "RW", "CD", "ZM", "MW", "BJ", "BF", "ML", "NE",
                   "TG", "GA", "CG", "TD", "CF", "GQ", "GN", "MG", "MZ", "ZA")
# A currency several countries share is taken, when a contest names the currency and not its country, as the country
# whose contests use it most (a contest created before contests had a country, or by an API client that sends none).
CURRENCY_HOMES = {"XAF": "CM", "XOF": "CI", "EUR": "FR", "USD": "US", "GBP": "GB"}
DEFAULT_COUNTRY = "CM"


class UnknownCountry(DomainError):
    status = 400
    code = "invalid_field"


@dataclass(frozen=True)
class Market:
    country: str  # ISO 3166-1 alpha-2
    calling_code: int  # 254
    currencies: tuple[str, ...]  # the country's currencies in use today, its main one first
    time_zones: tuple[str, ...]  # IANA names, the main one first

    @property
    def currency(self) -> str:
        return self.currencies[0] if self.currencies else "USD"

    @property
    def time_zone(self) -> str:
        return self.time_zones[0] if self.time_zones else "UTC"

    @property
    def example_number(self) -> str:
        """A mobile number as the country's people write it (`0712 123456`, `6 71 23 45 67`)."""
        number = phonenumbers.example_number_for_type(self.country, phonenumbers.PhoneNumberType.MOBILE)
        if number is None:
            return f"+{self.calling_code}"
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

    @property
    def prefix(self) -> str:
        """`+254`: how a voter knows a number is of this country."""
        return f"+{self.calling_code}"


@functools.cache
def countries() -> tuple[str, ...]:
    """Every country a contest can be in: those with phone numbering and a currency, the usual ones first."""
    known = {region for region in phonenumbers.SUPPORTED_REGIONS
             if region != "001" and get_territory_currencies(region) and _zones(region)}
    return tuple(c for c in FIRST_COUNTRIES if c in known) + tuple(sorted(known - set(FIRST_COUNTRIES)))


def _zones(country: str) -> tuple[str, ...]:
    zones: list[str] = get_global("territory_zones").get(country, [])
    real = known_zones()
    return tuple(zone for zone in zones if zone in real)


@functools.cache
def known_zones() -> frozenset[str]:
    """The tz database's zones, read once: `available_timezones` walks its folder at every call (a third of a second,
    which a vote's path must never wait for)."""
    return frozenset(available_timezones())


@functools.cache
def market_of(country: str) -> Market:
    """The market of a country code, or UnknownCountry."""
    code = str(country or "").strip().upper()
    if code not in countries():
        raise UnknownCountry(f"country: {country!r} is not a country code (e.g. CM, KE).", field="country")
    return Market(code, phonenumbers.country_code_for_region(code), tuple(get_territory_currencies(code)),
                  _main_zone_first(code))


def _main_zone_first(country: str) -> tuple[str, ...]:
    """CLDR lists a country's zones alphabetically; its capital's zone (the golden zone of the country's metazone)
    reads best as the default: Kinshasa before Lubumbashi."""
    zones = _zones(country)
    capital = {"CD": "Africa/Kinshasa", "US": "America/New_York", "RU": "Europe/Moscow", "AU": "Australia/Sydney",
               "BR": "America/Sao_Paulo", "CA": "America/Toronto", "MX": "America/Mexico_City"}.get(country)
    return tuple(sorted(zones, key=lambda zone: zone != capital))


def of_country(e164: str, country: str) -> bool:
    """Whether a number is of `country`, by its calling code (+1 is the US's and Canada's alike, +7 Russia's and
    Kazakhstan's): a wallet of another country cannot pay a contest's providers. A country we do not know takes any."""
    try:
        calling_code = market_of(country).calling_code
        return phonenumbers.parse(e164, None).country_code == calling_code
    except UnknownCountry:
        return True
    except phonenumbers.NumberParseException:
        return False


def country_for_currency(currency: str) -> str:
    """The country a contest in `currency` is taken to be in when none is named."""
    code = currency.upper()
    if code in CURRENCY_HOMES:
        return CURRENCY_HOMES[code]
    for country in countries():
        if get_territory_currencies(country)[:1] == [code]:
            return country
    return DEFAULT_COUNTRY


def checked_zone(name: str) -> ZoneInfo:
    """An IANA zone, or a DomainError naming the field."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(f"time_zone: {name!r} is not a time zone (e.g. Africa/Nairobi).", code="invalid_field",
                          field="time_zone") from None


def zone_abbreviation(when: datetime, zone: str) -> str:
    """The zone's name at that moment as its people read it on a clock: `EAT`, `WAT`, `CEST`."""
    return when.astimezone(ZoneInfo(zone)).tzname() or zone


def local_moment(naive: datetime, zone: str) -> datetime:
    """A wall-clock time typed in `zone` (a datetime-local field) as the moment it names."""
    return naive.replace(tzinfo=ZoneInfo(zone))


def wall_clock(when: datetime, zone: str) -> str:
    """A stored moment as a datetime-local field shows it in `zone`: `2026-12-01T20:00`."""
    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def on_clock(when: datetime, zone: str) -> str:
    """A stored moment as an organiser reads it on the contest's clock: `2026-12-01 20:00 EAT`."""
    return f"{when.astimezone(ZoneInfo(zone)).strftime('%Y-%m-%d %H:%M')} {zone_abbreviation(when, zone)}"
