"""The parts every phone channel shares: GSM-7 text, and the wallet behind a number (from the providers' parts)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assembly.provider_list import PROVIDERS
from channels.phone.gsm7 import GSM7_BASIC, SAFE, clip, is_gsm7, septets, transliterate
from gateway.kit.phone_wallets import NumberBlocks, PhoneWallet, PhoneWallets
from gateway.kit.provider_parts import phone_wallets

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


# The wallet of a number's network, as the providers declare their numbers (Cameroon's blocks, elsewhere carriers).

@pytest.mark.parametrize(("msisdn", "wallet"), [
    ("+237670000001", "mtn"), ("+237677123456", "mtn"), ("+237650000000", "mtn"),
    ("+237654999999", "mtn"), ("+237680000000", "mtn"), ("+237684000000", "mtn"),
    ("+237655000000", "orange"), ("+237659999999", "orange"), ("+237685000000", "orange"),
    ("+237689000000", "orange"), ("+237690000001", "orange"), ("+237699999999", "orange"),
    ("+237620000000", None), ("+237222123456", None),  # Camtel mobile, a landline
    ("+2250500000000", "mtn"), ("+2250700000000", "orange"), ("+2250100000000", None),  # CI
    ("+254712345678", "mpesa"), ("+254733123456", "airtel"),  # Kenya: Safaricom, Airtel
    ("+255754123456", "mpesa"), ("+255684123456", "airtel"),  # Tanzania: Vodacom, Airtel
    ("+256701234567", "airtel"), ("+260971234567", "airtel"),  # Uganda, Zambia
    ("+27821234567", None),  # Vodacom South Africa has no M-Pesa
    ("+46733123450", None),
])
def test_the_wallet_of_a_number(msisdn: str, wallet: str | None) -> None:
    assert phone_wallets(PROVIDERS).wallet_of(msisdn) == wallet


def test_two_wallets_cannot_take_one_sms_word() -> None:
    """A word two providers took would name whichever came last: refused where the app builds the wallets."""
    with pytest.raises(ValueError, match="both take the SMS word"):
        PhoneWallets({"one": PhoneWallet(sms_words=("PAY",)), "two": PhoneWallet(sms_words=("pay",))})


def test_the_blocks_are_read_most_specific_first_and_alone_in_their_country() -> None:
    wallets = PhoneWallets({"broad": PhoneWallet(number_blocks=(NumberBlocks("+999", 6, ("1",)),)),
                            "narrow": PhoneWallet(number_blocks=(NumberBlocks("+999", 6, ("12",)),))})
    assert wallets.number_blocks() == (("+99912", "narrow"), ("+9991", "broad"))
    assert [wallets.wallet_of(n) for n in ("+999123456", "+999133456", "+999233456")] == ["narrow", "broad", None]
    assert wallets.networks() == {"broad", "narrow"}
    assert PhoneWallets({"any": PhoneWallet(("ANY",))}).networks() == set()  # no number known: it may serve any
