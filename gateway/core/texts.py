"""The words of Ballot: gettext catalogs managed with Babel, one domain per package that shows texts. The
core's own texts (refusal reasons, the date pattern) are the `ballot` domain in gateway/core/locales; each
channel (and the admin area) keeps its texts in its own domain, `<package>/locales/<lang>/LC_MESSAGES/
<domain>.po` compiled to the .mo beside it, and names it with a `TextDomain`. A package takes
`DOMAIN.translations(lang)` (the core's `translations(lang)`) and calls gettext, ngettext (plural forms come
from the catalog) or pgettext on it; msgids are the English texts, and a text the domain lacks is looked up
in the core's catalog (so a channel shows the core's refusal reasons translated). Message contexts keep
texts apart where a domain is shared by screens of different room (a phone's texts stay GSM-7).

Numbers, money and dates are written as each language writes them, through Babel."""

from __future__ import annotations

import functools
import gettext
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import get_global
from babel.dates import format_datetime
from babel.localedata import locale_identifiers
from babel.numbers import format_decimal, get_currency_symbol, get_territory_currencies

from gateway.core.market import zone_abbreviation
from gateway.core.money import UnknownCurrency, minor_digits

DOMAIN = "ballot"
LOCALE_NAMES = frozenset(locale_identifiers())
LOCALES = Path(__file__).parent / "locales"
# The zone of a time shown with no contest behind it (the old reading of every contest: Cameroon, West Africa Time).
DEFAULT_ZONE = "Africa/Douala"


class Lang(StrEnum):
    """The voters' languages, each with a catalog in every domain a voter reads; French first, the default of
    the contests we serve. Swahili is for the East African markets of M-Pesa and Airtel Money."""

    FR = "fr"
    EN = "en"
    SW = "sw"

    @classmethod
    def parse(cls, value: str | None) -> Lang | None:
        try:
            return cls(value) if value else None
        except ValueError:
            return None


LANGUAGES = tuple(Lang)
# The organisers' languages: the admin area's domain has catalogs in these only.
ORGANISER_LANGUAGES = (Lang.FR, Lang.EN)


def N_(message: str) -> str:
    """Marks an English text for `pybabel extract` where it is translated later (in tables)."""
    return message


@dataclass(frozen=True)
class TextDomain:
    """One package's catalogs: its gettext domain and the `locales` folder beside its code (`make texts`
    extracts the package's texts into it)."""

    name: str
    locales: Path
    languages: tuple[Lang, ...] = LANGUAGES  # those the domain has a catalog for (`make texts` keeps them)

    def catalog(self, lang: str) -> Path:
        """The .po of one language (its compiled .mo lies beside it)."""
        return self.locales / lang / "LC_MESSAGES" / f"{self.name}.po"

    def translations(self, lang: str) -> gettext.GNUTranslations:
        """The domain's compiled catalog of one language, falling back to the core's for the core's texts."""
        return domain_translations(self, lang)


CORE = TextDomain(DOMAIN, LOCALES)


@functools.cache
def compiled(domain: TextDomain, lang: str) -> gettext.GNUTranslations:
    """A domain's .mo alone (a missing one is an error, not English in disguise)."""
    with domain.catalog(lang).with_suffix(".mo").open("rb") as source:
        return gettext.GNUTranslations(source)


@functools.cache
def domain_translations(domain: TextDomain, lang: str) -> gettext.GNUTranslations:
    """A domain's catalog with the core's behind it; loaded once per domain and language."""
    if domain == CORE:
        return compiled(CORE, lang)
    with domain.catalog(lang).with_suffix(".mo").open("rb") as source:
        own = gettext.GNUTranslations(source)
    own.add_fallback(compiled(CORE, lang))
    return own


def translations(lang: str) -> gettext.GNUTranslations:
    """The core's compiled catalog of one language."""
    return domain_translations(CORE, lang)


@functools.cache
def babel_locale(lang: str) -> Locale:
    """Parsed once: Babel parses a locale name on every call otherwise (most of a number's cost)."""
    return Locale.parse(lang)


def format_number(n: int, lang: str) -> str:
    """1500 as `1 500` (narrow no-break space) in French, `1,500` in English."""
    return format_decimal(n, locale=babel_locale(lang))


def format_money(amount: int, currency: str, lang: str) -> str:
    """Minor units as a voter reads them, the one way every page, statement, export and message shows an amount: the
    language's digits and its place for the currency, with the symbol the currency's own country reads in that
    language (CLDR through Babel: the language's locale in the currency's country where it has one): `Ksh 1,500.00`
    (en, sw), `1 500 FCFA`, `12,50 €` (fr), `FCFA 1,500` (en), the ISO code where no symbol is known (`1 500,00
    KES` in French: Babel has no French of Kenya). A letter symbol is kept apart from the digits by a no-break
    space. Digits after the point: the currency's minor units (ISO 4217), whatever CLDR rounds to."""
    code = currency.upper()
    digits = shown_digits(code)
    base = babel_locale(lang)
    symbol = get_currency_symbol(code, money_locale(lang, code))
    number = format_decimal(abs(Decimal(amount)).scaleb(-digits), "#,##0" + ("." + "0" * digits if digits else ""),
                            locale=base, decimal_quantization=False)
    standard = str(base.currency_formats["standard"].pattern)
    if standard.startswith("¤"):
        gap = "\u00a0" if standard[1:2] in ("\u00a0", " ") or symbol[-1:].isalpha() else ""
        shown = f"{symbol}{gap}{number}"
    else:
        shown = f"{number}\u00a0{symbol}"
    return base.number_symbols["latn"]["minusSign"] + shown if amount < 0 else shown


@functools.cache
def money_locale(lang: str, currency: str) -> Locale:
    """The language as written in a country whose currency this is (en_KE, fr_CM, sw_TZ), whose symbol its people
    read (Ksh, FCFA); the language alone where Babel knows no such locale (French of Kenya). A currency shared by
    several countries has the same symbol in each. Only the symbol is taken from it: the digits are the language's
    own (English as written in France puts a comma before the cents)."""
    code = currency.upper()
    for country in sorted(get_global("territory_currencies")):
        name = f"{lang}_{country}"
        if name in LOCALE_NAMES and get_territory_currencies(country)[:1] == [code]:
            return Locale.parse(name)
    return babel_locale(lang)


def shown_digits(currency: str) -> int:
    """The currency's minor-unit digits; none for a code that is no currency (shown whole, not hidden)."""
    try:
        return minor_digits(currency)
    except UnknownCurrency:
        return 0


def format_date(when: datetime, lang: str, zone: str = DEFAULT_ZONE) -> str:
    """A moment on a contest's clock (`zone`, IANA) with the zone's name, so a voter elsewhere knows which clock:
    `5 mars 2026 à 18:00 (WAT)`, `March 5, 2026 at 20:00 (EAT)`."""
    # Translators: a CLDR date pattern (MMMM the month's name, d the day, y the year, HH:mm the time);
    # text between single quotes is shown as it is.
    pattern = translations(lang).pgettext("date pattern", "MMMM d, y 'at' HH:mm")
    shown = format_datetime(when, pattern, tzinfo=ZoneInfo(zone), locale=babel_locale(lang))
    return f"{shown} ({zone_abbreviation(when, zone)})"
