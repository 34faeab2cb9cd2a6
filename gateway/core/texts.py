"""The words of every channel: gettext catalogs managed with Babel, one per language, in
locales/<lang>/LC_MESSAGES/ballot.po (compiled to the .mo beside it, the layout aiogram's i18n reads
too). A channel takes `translations(lang)` and calls gettext, ngettext (plural forms come from the
catalog) or pgettext on it; msgids are the English texts. Phone channels keep their own message
contexts ("ussd", "phone", "sms"), whose texts stay GSM-7, so the web keeps its accents.

Numbers, money and dates are written as each language writes them, through Babel."""

from __future__ import annotations

import functools
import gettext
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal

from gateway.core.money import UnknownCurrency, minor_digits

DOMAIN = "ballot"
LOCALES = Path(__file__).parent / "locales"
# Contests have no time zone yet: dates are shown in West Africa Time (Cameroon, no daylight saving).
LOCAL_TIME = timezone(timedelta(hours=1), "WAT")


class Lang(StrEnum):
    """The languages with a catalog; French first, the default of the contests we serve."""

    FR = "fr"
    EN = "en"

    @classmethod
    def parse(cls, value: str | None) -> Lang | None:
        try:
            return cls(value) if value else None
        except ValueError:
            return None


LANGUAGES = tuple(Lang)


def N_(message: str) -> str:
    """Marks an English text for `pybabel extract` where it is translated later (in tables)."""
    return message


@functools.cache
def translations(lang: str) -> gettext.GNUTranslations:
    """The compiled catalog of one language (a missing one is an error, not English in disguise)."""
    with (LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as compiled:
        return gettext.GNUTranslations(compiled)


@functools.cache
def babel_locale(lang: str) -> Locale:
    """Parsed once: Babel parses a locale name on every call otherwise (most of a number's cost)."""
    return Locale.parse(lang)


def format_number(n: int, lang: str) -> str:
    """1500 as `1 500` (narrow no-break space) in French, `1,500` in English."""
    return format_decimal(n, locale=babel_locale(lang))


def format_money(amount: int, currency: str, lang: str) -> str:
    """Minor units as a voter reads them: `1 500 XAF`, `12,50 EUR` / `1,500 XAF`, `12.50 EUR`: the
    language's digits and the ISO code after a no-break space, whatever the language's own habit."""
    digits = shown_digits(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "\u00a0¤¤"
    return format_currency(Decimal(amount).scaleb(-digits), currency.upper(), pattern, locale=babel_locale(lang),
                           currency_digits=False)


def shown_digits(currency: str) -> int:
    """The currency's minor-unit digits; none for a code that is no currency (shown whole, not hidden)."""
    try:
        return minor_digits(currency)
    except UnknownCurrency:
        return 0


def format_date(when: datetime, lang: str) -> str:
    """A contest's opening or closing, in West Africa Time: `5 mars 2026 à 18:00 (WAT)`."""
    # Translators: a CLDR date pattern (MMMM the month's name, d the day, y the year, HH:mm the time);
    # text between single quotes is shown as it is.
    pattern = translations(lang).pgettext("date pattern", "MMMM d, y 'at' HH:mm '(WAT)'")
    return format_datetime(when, pattern, tzinfo=LOCAL_TIME, locale=babel_locale(lang))
