"""Every SMS the channel sends fits one GSM-7 message (160 characters) in every language, with the longest
names, keywords, amounts and reasons a contest can give it."""

from __future__ import annotations

import pytest

from channels.phone.gsm7 import is_gsm7, texted
from channels.sms import texts
from gateway.core.money_in.reasons import READABLE
from gateway.core.texts import LANGUAGES, Lang

LONG_NAME = "Marie-Éloïse Ngô Bikoko Épse Tchoumba de la Grande Côte"
REF = "ABCDEF12"


def every_text(lang: Lang) -> list[str]:
    made = [
        texts.prompt(lang, 10_000_000, "XAF", 100_000, "99999999", LONG_NAME, REF),
        texts.receipt_text(lang, "paid", 100_000, "99999999", LONG_NAME, REF),
        texts.receipt_text(lang, "expired", 100_000, "99999999", LONG_NAME, REF),
        texts.receipt_text(lang, "failed", 100_000, "99999999", LONG_NAME, REF, "something odd"),
        *(texts.receipt_text(lang, "failed", 100_000, "99999999", LONG_NAME, REF, code) for code in READABLE),
        texts.usage(lang, "SUPERLONGKEYWORDFORACONTEST", "1234567890123456"),
        texts.bad_quantity(lang, 100_000, "SUPERLONGKEYWORDFORACONTEST"),
        texts.unknown_candidate(lang, "123456789012", "SUPERLONGKEYWORDFORACONTEST"),
        texts.top(lang, [(rank, "99999999", LONG_NAME, 123_456_789) for rank in range(1, 6)]),
        texts.top(lang, []),
    ]
    fixed = texts.sms_texts(lang)
    return [*made, fixed.stopped, fixed.no_contest]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_is_one_gsm7_sms(lang: Lang) -> None:
    for text in every_text(lang):
        assert is_gsm7(text), text
        assert len(text) <= texts.SMS_LENGTH, (len(text), text)


def test_the_languages_say_it_differently() -> None:
    assert every_text(Lang.FR)[0].startswith("Validez ") and every_text(Lang.EN)[0].startswith("Approve ")
    assert every_text(Lang.SW)[0].startswith("Thibitisha ")



@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_reason_reads_whole_in_a_receipt(lang: Lang) -> None:
    """A reason longer than its room would be cut mid-word ("...finish it f."): each fits, in every language."""
    for code, english in READABLE.items():
        whole = texted(texts.CATALOGS.translations(lang).gettext(english))
        assert texts.readable(lang, code) == whole, (code, len(whole), whole)
