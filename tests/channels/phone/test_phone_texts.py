"""The phone channels' texts in every catalog: GSM-7 (French with GSM-7's accents only), and short enough for their
place on a screen with their values at their widest. Driven by the catalogs, so a new language or a new
text is checked without touching this file (a text's own room comes from its `Limit:` comment)."""

from __future__ import annotations

import re
from string import Formatter

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from channels.phone.gsm7 import is_gsm7, septets, texted
from channels.phone.texts import CATALOGS as PHONE
from channels.sms.texts import CATALOGS as SMS
from channels.ussd.layout import TEXT_BUDGET
from channels.ussd.texts import CATALOGS as USSD
from gateway.core.texts import LANGUAGES

SMS_LIMIT = 160  # one GSM-7 SMS
ROOM = {"ussd": TEXT_BUDGET, "phone": TEXT_BUDGET, "sms": SMS_LIMIT}
# The widest value each field takes on a phone (names are clipped, codes cut to 8 characters, …).
# Amounts are `texted_money`'s: the widest of a franc CFA's in French ("10 000 000 F CFA").
WIDEST = {"code": "12345678", "maximum": "12345678", "price": "1 000 000 F CFA", "total": "10 000 000 F CFA",
          "quantity": "1000", "contest": "C" * 40, "provider": "Orange Money", "ref": "ABCDEF12",
          "service_code": "*" * 20, "name": "N" * 20, "paid": "1000000", "pending": "1000",
          # SMS voting: channels/sms/texts.py clips these
          "keyword": "K" * 10, "short_code": "1" * 16, "reason": "R" * 60, "lines": "L" * 150, "n": "1000",
          # a receipt's provider code (channels/phone/receipt_texts.py clips it), a ranking line's rank and count, and
          # My votes' few words of why an order failed (the longest of the catalogs' own)
          "receipt": "R" * 20, "rank": "5", "votes": "1000000", "why": "W" * 22,
          # what a contest takes: three wallets' names (each clipped to 20) joined, its country's prefix
          "providers": "P" * 66, "first": "F" * 42, "last": "L" * 20, "prefix": "+1234",
          # a number's free votes left (channels/phone/free_vote_texts.py)
          "left": "99"}
LIMIT = re.compile(r"Limit: (\d+)")


def phone_messages() -> list[tuple[str, Message]]:
    found = []
    for lang in LANGUAGES:
        for domain in (PHONE, SMS, USSD):
            with domain.catalog(lang).open("rb") as source:
                found += [(lang, m) for m in read_po(source) if m.id and m.context in ROOM]
    return found


def named(found: list[tuple[str, Message]]) -> list[object]:
    return [pytest.param(lang, m, id=f"{lang}:{m.context}:{str(m.id)[:30]}") for lang, m in found]


def shown(message: Message) -> list[str]:
    """What a phone may show for this entry: the translation, or the English msgid when there is none."""
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return [*ids, *(s for s in strings if s)]


def room(message: Message) -> int:
    stated = LIMIT.search(" ".join(message.auto_comments))
    return int(stated.group(1)) if stated else ROOM[str(message.context)]


def test_the_catalogs_hold_phone_texts() -> None:
    assert {m.context for _, m in phone_messages()} >= {"ussd", "phone"}


@pytest.mark.parametrize(("lang", "message"), named(phone_messages()))
def test_every_phone_text_is_gsm7_and_fits(lang: str, message: Message) -> None:
    for text in shown(message):
        assert is_gsm7(text) and texted(text) == text, (lang, text)  # GSM-7's accents only (docs/texts.md)
        fields = {name for _, name, _, _ in Formatter().parse(text) if name}
        assert fields <= WIDEST.keys(), f"give {fields - WIDEST.keys()} a widest value in WIDEST"
        filled = text.format(**WIDEST)
        assert septets(filled) <= room(message), (lang, filled)
