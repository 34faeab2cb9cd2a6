"""The parts every phone channel shares: GSM-7 text and the operator behind a number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.phone.gsm7 import GSM7_BASIC, SAFE, clip, is_gsm7, septets, transliterate
from channels.phone.operators import Operator, detect_operator

# GSM-7 and transliteration.


@pytest.mark.parametrize(("raw", "expected"), [
    ("Grace Ndongo", "Grace Ndongo"),
    ("Hervé Kamga", "Herve Kamga"),
    ("Émilie Ñúñez 👑", "Emilie Nunez"),
    ("Straße Æsir Øre Œuvre", "Strasse AEsir Ore OEuvre"),
    ("“Queen” O’Neil – Mbappé…", '"Queen" O\'Neil - Mbappe...'),
    ("a\tb\n  c", "a b c"),
    ("👑🇨🇲✨", ""),
    ("Ангелина 张伟", ""),
    ("{x}[y]|z~^\\", "(x)(y)/z-/"),
    ("Prix: 5€", "Prix: 5EUR"),
])
def test_transliterate(raw: str, expected: str) -> None:
    assert transliterate(raw) == expected


@given(st.text(max_size=60))
def test_transliteration_is_always_plain_gsm7(raw: str) -> None:
    out = transliterate(raw)
    assert set(out) <= SAFE and is_gsm7(out) and septets(out) == len(out)
    assert out == out.strip() and "  " not in out


def test_gsm7_alphabet() -> None:
    assert is_gsm7("CON Merci! 500 XAF @ $ _ é à ñ ü")
    assert not is_gsm7("💡") and not is_gsm7("ç") and not is_gsm7("’") and not is_gsm7("`")
    assert septets("a€[") == 5 and is_gsm7("a€[")
    assert "`" not in GSM7_BASIC and SAFE <= GSM7_BASIC


def test_clip_marks_cut_names() -> None:
    assert clip("Grace Ndongo", 20) == "Grace Ndongo"
    assert clip("Grace Ndongo", 7) == "Grace."
    assert len(clip("x" * 50, 10)) == 10


# Operator detection.

@pytest.mark.parametrize(("msisdn", "operator"), [
    ("+237670000001", Operator.MTN), ("+237677123456", Operator.MTN), ("+237650000000", Operator.MTN),
    ("+237654999999", Operator.MTN), ("+237680000000", Operator.MTN), ("+237684000000", Operator.MTN),
    ("+237655000000", Operator.ORANGE), ("+237659999999", Operator.ORANGE), ("+237685000000", Operator.ORANGE),
    ("+237689000000", Operator.ORANGE), ("+237690000001", Operator.ORANGE), ("+237699999999", Operator.ORANGE),
    ("+237620000000", None), ("+237222123456", None),  # Camtel mobile, a landline
    ("+2250500000000", Operator.MTN), ("+2250700000000", Operator.ORANGE), ("+2250100000000", None),  # CI
    ("+254712345678", Operator.MPESA), ("+254733123456", Operator.AIRTEL),  # Kenya: Safaricom, Airtel
    ("+255754123456", Operator.MPESA), ("+255684123456", Operator.AIRTEL),  # Tanzania: Vodacom, Airtel
    ("+256701234567", Operator.AIRTEL), ("+260971234567", Operator.AIRTEL),  # Uganda, Zambia
    ("+27821234567", None),  # Vodacom South Africa has no M-Pesa
    ("+46733123450", None),
])
def test_detect_operator(msisdn: str, operator: Operator | None) -> None:
    assert detect_operator(msisdn) is operator
