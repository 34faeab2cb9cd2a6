"""An amount on a phone is the product's money (`format_money`: Ksh 30.00, 300 FCFA) as GSM-7 carries it: its no-break
spaces plain, and a symbol GSM-7 lacks replaced by the currency's code, so one amount never turns a message into UCS-2
(half the room)."""

from __future__ import annotations

import pytest
from babel.numbers import get_territory_currencies

from channels.phone.gsm7 import is_gsm7
from channels.phone.texts import texted_money
from gateway.core.market import FIRST_COUNTRIES
from gateway.core.texts import LANGUAGES, Lang


@pytest.mark.parametrize(("amount", "currency", "lang", "shown"), [
    (3000, "KES", Lang.EN, "Ksh 30.00"), (3000, "KES", Lang.SW, "Ksh 30.00"), (300, "XAF", Lang.FR, "300 FCFA"),
    (300, "XAF", Lang.EN, "FCFA 300"), (150000, "XAF", Lang.FR, "150 000 FCFA"), (500, "XOF", Lang.FR, "500 F CFA"),
    # GSM-7 has no naira or cedi sign: the code stands in, where the symbol was
    (50000, "NGN", Lang.EN, "NGN 500.00"), (500, "GHS", Lang.EN, "GHS 5.00"),
])
def test_a_phone_reads_the_products_money_in_gsm7(amount: int, currency: str, lang: Lang, shown: str) -> None:
    assert texted_money(amount, currency, lang) == shown


USUAL_CURRENCIES = sorted({c for country in FIRST_COUNTRIES for c in get_territory_currencies(country)})


@pytest.mark.parametrize("currency", USUAL_CURRENCIES)
def test_every_currency_of_the_usual_countries_is_texted_in_gsm7(currency: str) -> None:
    for lang in LANGUAGES:
        shown = texted_money(123456, currency, lang)
        assert is_gsm7(shown) and "\u00a0" not in shown and any(ch.isdigit() for ch in shown), (lang, shown)
