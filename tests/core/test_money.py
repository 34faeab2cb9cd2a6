"""One currency table: the web page, the USSD screen and the provider's wire all put the decimal point
at the same place, the ISO 4217 one."""

from __future__ import annotations

import pytest

from channels.phone.texts import texted_money
from channels.web.i18n import Translator
from gateway.core.contests.catalog import VotingState
from gateway.core.money import UnknownCurrency, from_major, minor_digits, money_text, to_major_string
from gateway.core.money_in.paid_unasked import why_held
from gateway.core.oversight.review import duplicate_reason, partial_refund_reason
from gateway.core.texts import Lang


@pytest.mark.parametrize(("currency", "digits"), [
    ("XAF", 0), ("XOF", 0), ("GNF", 0), ("RWF", 0), ("UGX", 0), ("EUR", 2), ("USD", 2), ("GHS", 2), ("NGN", 2),
    ("ZMW", 2), ("KES", 2), ("JPY", 0), ("BHD", 3), ("OUV", 0), ("eur", 2)])
def test_minor_digits_follow_iso_4217(currency: str, digits: int) -> None:
    assert minor_digits(currency) == digits


@pytest.mark.parametrize("code", ["", "XYZ", "EURO", "€"])
def test_a_code_that_is_no_currency_is_refused(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        minor_digits(code)
    with pytest.raises(ValueError):
        to_major_string(100, code)


@pytest.mark.parametrize(("currency", "major", "web_en", "web_fr"), [
    ("XAF", "123456", "FCFA\u00a0123,456", "123\u202f456\u00a0FCFA"),
    ("EUR", "1234.56", "€1,234.56", "1\u202f234,56\u00a0€"),
    ("KES", "1234.56", "Ksh\u00a01,234.56", "1\u202f234,56\u00a0KES"),
    ("BHD", "123.456", "BHD\u00a0123.456", "123,456\u00a0BHD"),
])
def test_web_ussd_and_providers_read_an_amount_alike(currency: str, major: str, web_en: str, web_fr: str) -> None:
    minor = 123456
    assert to_major_string(minor, currency) == major and from_major(major, currency) == minor
    # A phone reads the web's money, its no-break spaces plain (GSM-7 has none)
    assert texted_money(minor, currency, Lang.EN) == web_en.replace("\u00a0", " ")
    assert texted_money(minor, currency, Lang.FR) == web_fr.replace("\u00a0", " ").replace("\u202f", " ")
    assert Translator("en").money(minor, currency) == web_en and Translator("fr").money(minor, currency) == web_fr
    assert Translator("en").money_digits(currency) == minor_digits(currency)


def test_the_reasons_a_person_reads_give_sums_in_major_units() -> None:
    """The review queue, an order's page and the exports show these words beside sums shown as money: a Kenyan
    reason once read "3500 KES" beside "Ksh 35.00"."""
    assert money_text(3050, "KES") == "30.50 KES" and money_text(500, "xaf") == "500 XAF"
    assert money_text(None, None) == "None None" and money_text(12, "ZZZ") == "12 ZZZ"  # as it came
    assert "(mtn-4, 30.50 KES)" in duplicate_reason({"second_txn": "mtn-4", "amount": 3050, "currency": "KES",
                                                    "paid_txn": "mtn-3"})
    partial = partial_refund_reason({"refunded": 500, "currency": "KES", "amount": 3000, "order_currency": "KES"})
    assert partial.startswith("5.00 KES of 30.00 KES refunded")
    held = why_held(3500, 1000, "KES", VotingState.OPEN)
    assert held == "paid 35.00 KES into the paybill: 3 votes at 10.00 KES and 5.00 KES more"
