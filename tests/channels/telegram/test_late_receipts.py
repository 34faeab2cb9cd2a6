"""A bot voter whose payment came after the lines closed and the contest's grace is told so in their language: not
counted, the payment being refunded; and a phone voter's SMS (SMS and USSD votes) says the same in one message."""

from __future__ import annotations

import pytest

from channels.phone.gsm7 import septets
from channels.phone.receipt_texts import SMS_LENGTH, decided_order_text
from channels.telegram.receipts import receipt_text
from channels.telegram.texts import texts
from gateway.core.orders.receipts import ReceiptKind
from gateway.core.texts import Lang
from tests.channels.telegram.test_counted_texts import receipt


@pytest.mark.parametrize(("lang", "one", "two"), [
    (Lang.EN, "The lines had closed when your payment for 1 vote for 07 Grace reached us: it was not counted, and "
              "your payment is being refunded.",
     "for 2 votes for 07 Grace reached us: they were not counted"),
    (Lang.FR, "Les lignes étaient fermées quand votre paiement de 1 vote pour 07 Grace nous est parvenu : il n'a pas "
              "été compté, et votre paiement est en cours de remboursement.",
     "ils n'ont pas été comptés"),
    (Lang.SW, "Laini zilikuwa zimefungwa malipo yako ya kura 1 ya 07 Grace yalipotufikia", "kura 2 za 07 Grace"),
])
def test_a_late_receipt_says_the_lines_had_closed_and_the_money_goes_back(lang: Lang, one: str, two: str) -> None:
    assert one in receipt_text(receipt(ReceiptKind.LATE, 1, lang))
    assert two in receipt_text(receipt(ReceiptKind.LATE, 2, lang))


@pytest.mark.parametrize("lang", list(Lang))
def test_a_phone_voters_late_receipt_is_one_sms_in_their_language(lang: Lang) -> None:
    text = decided_order_text(receipt(ReceiptKind.LATE, 2, lang), lang)
    assert septets(text) <= SMS_LENGTH and "ABCDEF12" in text
    assert text != decided_order_text(receipt(ReceiptKind.FAILED, 2, lang), lang)


def test_the_bots_list_of_votes_names_a_late_one() -> None:
    assert texts(Lang.FR).statuses["late"] == "trop tard, en cours de remboursement"

