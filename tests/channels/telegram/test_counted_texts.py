"""The bot's texts that say a count read as each language says one and two ("1 vote ... compté", "2 votes ...
comptés"; "kura 1 ya ... imehesabiwa", "kura 2 za ... zimehesabiwa"), from the catalogs' plural forms, never
"vote(s)"; a paid receipt quotes the provider's receipt code where its payers are given one (M-Pesa's)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from assembly.provider_list import provider as provider_parts
from channels.telegram.receipts import receipt_text
from channels.telegram.texts import how_to_pay, my_votes_line, prompt_sent, texts
from gateway.core.contests.catalog import VoterOrder
from gateway.core.orders.receipts import Receipt, ReceiptKind
from gateway.core.providers import Approval
from gateway.core.texts import Lang
from gateway.db.models import OrderStatus

ORDER_ID = uuid.UUID("abcdef12-0000-4000-8000-000000000000")


def receipt(kind: ReceiptKind, quantity: int, lang: Lang, provider: str = "mtn",
            receipt_code: str | None = None) -> Receipt:
    now = datetime.now(UTC)
    order = VoterOrder(ORDER_ID, OrderStatus.PAID, None, 1, "gala", "07", "Grace", quantity, 100 * quantity, "XAF",
                       provider, "telegram", None, now, now, now, receipt_code=receipt_code)
    return Receipt(kind, order, "Gala", None, "42", lang.value, provider_parts(provider).label)  # as send_receipt


@pytest.mark.parametrize(("lang", "one", "two"), [
    (Lang.EN, "Receipt ABCDEF12\n1 vote for 07 Grace counted in Gala. Thank you!",
     "Receipt ABCDEF12\n2 votes for 07 Grace counted in Gala. Thank you!"),
    (Lang.FR, "Reçu ABCDEF12\n1 vote pour 07 Grace compté dans Gala. Merci !",
     "Reçu ABCDEF12\n2 votes pour 07 Grace comptés dans Gala. Merci !"),
    (Lang.SW, "Risiti ABCDEF12\nKura 1 ya 07 Grace imehesabiwa katika Gala. Asante!",
     "Risiti ABCDEF12\nKura 2 za 07 Grace zimehesabiwa katika Gala. Asante!"),
])
def test_a_paid_receipt_counts_one_vote_and_two_votes_as_its_language_does(lang: Lang, one: str, two: str) -> None:
    assert receipt_text(receipt(ReceiptKind.PAID, 1, lang)) == one
    assert receipt_text(receipt(ReceiptKind.PAID, 2, lang)) == two


@pytest.mark.parametrize(("lang", "failed", "expired"), [
    (Lang.EN, "The payment for 1 vote for 07 Grace failed", "The invoice for 2 votes for 07 Grace expired unpaid"),
    (Lang.FR, "Le paiement de 1 vote pour 07 Grace a échoué", "La facture de 2 votes pour 07 Grace a expiré"),
    (Lang.SW, "Malipo ya kura 1 ya 07 Grace hayakufanikiwa", "Ankara ya kura 2 za 07 Grace imeisha muda"),
])
def test_a_failed_or_expired_receipt_counts_its_votes_too(lang: Lang, failed: str, expired: str) -> None:
    assert failed in receipt_text(receipt(ReceiptKind.FAILED, 1, lang))
    assert expired in receipt_text(receipt(ReceiptKind.EXPIRED, 2, lang))


@pytest.mark.parametrize(("lang", "quoted"), [
    (Lang.EN, "3 votes for 07 Grace counted in Gala. M-Pesa receipt: QK7A1B2C3D. Thank you!"),
    (Lang.FR, "3 votes pour 07 Grace comptés dans Gala. Reçu M-Pesa : QK7A1B2C3D. Merci !"),
    (Lang.SW, "Kura 3 za 07 Grace zimehesabiwa katika Gala. Risiti ya M-Pesa: QK7A1B2C3D. Asante!"),
])
def test_a_paid_receipt_quotes_the_providers_receipt_code(lang: Lang, quoted: str) -> None:
    assert receipt_text(receipt(ReceiptKind.PAID, 3, lang, "mpesa", "QK7A1B2C3D")).endswith(quoted)


@pytest.mark.parametrize(("lang", "pay_one", "pay_two", "line_one", "line_two"), [
    (Lang.EN, "1 vote for 07 Grace: 10 ⭐", "2 votes for 07 Grace: 20 ⭐", "ABCDEF12: 1 vote for 07 Grace (counted)",
     "ABCDEF12: 2 votes for 07 Grace (counted)"),
    (Lang.FR, "1 vote pour 07 Grace : 10 ⭐", "2 votes pour 07 Grace : 20 ⭐",
     "ABCDEF12 : 1 vote pour 07 Grace (compté)", "ABCDEF12 : 2 votes pour 07 Grace (compté)"),
    (Lang.SW, "Kura 1 kwa 07 Grace: 10 ⭐", "Kura 2 kwa 07 Grace: 20 ⭐", "ABCDEF12: kura 1 ya 07 Grace (imehesabiwa)",
     "ABCDEF12: kura 2 za 07 Grace (imehesabiwa)"),
])
def test_how_to_pay_and_my_votes_count_one_vote_and_two_votes(lang: Lang, pay_one: str, pay_two: str, line_one: str,
                                                               line_two: str) -> None:
    t = texts(lang)
    assert how_to_pay(t, 1, "07 Grace", "10 ⭐").startswith(pay_one + "\n")
    assert how_to_pay(t, 2, "07 Grace", "20 ⭐").startswith(pay_two + "\n")
    assert my_votes_line(t, "ABCDEF12", 1, "07", "Grace", t.statuses["paid"]) == line_one
    assert my_votes_line(t, "ABCDEF12", 2, "07", "Grace", t.statuses["paid"]) == line_two


@pytest.mark.parametrize(("lang", "pin", "menu"), [
    (Lang.FR, "Saisissez votre code PIN M-Pesa dans la demande apparue sur +254712000001 pour payer Ksh 30.00. Votre "
              "reçu suivra ici.",
     "Une demande de paiement a été envoyée au +237677123456 : validez-la sur votre téléphone. Votre reçu suivra ici."),
    (Lang.SW, "Weka PIN yako ya M-Pesa kwenye ombi lililotokea kwenye +254712000001 kulipa Ksh 30.00. Risiti yako "
              "itafuata hapa.",
     "Ombi la malipo limetumwa kwa +237677123456: lithibitishe kwenye simu yako. Risiti yako itafuata hapa."),
])
def test_a_pin_prompt_is_told_as_one_and_another_prompt_keeps_the_approve_wording(lang: Lang, pin: str,
                                                                                  menu: str) -> None:
    t = texts(lang)
    assert prompt_sent(t, "+254712000001", Approval.PIN_PROMPT, "M-Pesa", "Ksh 30.00") == pin
    assert prompt_sent(t, "+237677123456", Approval.MENU_APPROVAL, "MTN MoMo", "300 FCFA") == menu
