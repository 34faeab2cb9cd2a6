"""What a phone shows of a count reads as each language writes it ("1 vote", "2 votes"; "kura 1", "kura 2"), from the
catalogs' plural forms, and a ranking line keeps the rank apart from the candidate's code ("1. 07 Grace Ndongo: 12",
never "1.07 Grace…", which reads as one number)."""

from __future__ import annotations

from channels.phone.receipt_texts import receipt_text
from channels.phone.texts import placed_message, ranking_line
from channels.sms import texts as sms
from channels.ussd.texts import mine_pending, mine_title, pay_with, summary_line, texts, too_many
from gateway.core.texts import Lang


def test_the_ussd_menu_says_one_vote_and_two_votes_in_each_language() -> None:
    fr, en, sw = texts(Lang.FR), texts(Lang.EN), texts(Lang.SW)
    assert [summary_line(fr, n, "07", "Grace") for n in (1, 2)] == ["1 vote pour 07 Grace", "2 votes pour 07 Grace"]
    assert [summary_line(en, n, "07", "Grace") for n in (1, 2)] == ["1 vote for 07 Grace", "2 votes for 07 Grace"]
    assert [summary_line(sw, n, "07", "Grace") for n in (1, 2)] == ["Kura 1 kwa 07 Grace", "Kura 2 kwa 07 Grace"]
    assert pay_with(fr, 1, "100 XAF") == "1 vote = 100 XAF\nPayer avec:"
    assert pay_with(en, 2, "200 XAF") == "2 votes = 200 XAF\nPay with:"
    assert [mine_title(fr, n) for n in (1, 2)] == ["Mes votes: 1 compté", "Mes votes: 2 comptés"]
    assert [mine_pending(en, n) for n in (1, 2)] == ["1 payment pending", "2 payments pending"]
    assert [mine_pending(fr, n) for n in (1, 2)] == ["1 paiement en attente", "2 paiements en attente"]
    assert [too_many(en, n) for n in (1, 5)] == ["At most 1 vote.", "At most 5 votes."]


def test_the_last_screen_and_the_sms_replies_count_in_words_too() -> None:
    assert placed_message(Lang.FR, 1, 100, "XAF", "mtn", "REF").endswith("pour compter 1 vote. Ref REF")
    assert placed_message(Lang.EN, 1, 100, "XAF", "mtn", "REF").endswith("to count your 1 vote. Ref REF")
    assert placed_message(Lang.SW, 1, 100, "XAF", "mtn", "REF").endswith("ili kura 1 ihesabiwe. Kumb REF")
    assert placed_message(Lang.SW, 3, 300, "XAF", "mtn", "REF").endswith("ili kura 3 zihesabiwe. Kumb REF")
    assert sms.bad_quantity(Lang.EN, 1, "VOTE") == "You can buy 1 to 1 vote per message, e.g. VOTE 07 5."
    assert receipt_text(Lang.FR, "paid", 1, "07", "Grace", "REF") == "Merci! 1 vote pour 07 Grace compté. Ref REF"
    assert receipt_text(Lang.SW, "paid", 1, "07", "Grace", "REF") == "Asante! Kura 1 ya 07 Grace imehesabiwa. Kumb REF"


def test_a_receipt_quotes_the_providers_own_code_where_there_is_one() -> None:
    assert receipt_text(Lang.EN, "paid", 2, "07", "Grace", "REF", provider="M-Pesa", provider_receipt="QKJ4ABC123") \
        == "Thank you! 2 votes for 07 Grace counted. M-Pesa receipt QKJ4ABC123. Ref REF"
    assert receipt_text(Lang.FR, "paid", 2, "07", "Grace", "REF", provider="M-Pesa", provider_receipt="QKJ4ABC123") \
        == "Merci! 2 votes pour 07 Grace comptés. Recu M-Pesa QKJ4ABC123. Ref REF"


def test_a_ranking_line_keeps_the_rank_apart_from_the_code() -> None:
    for lang in Lang:
        assert ranking_line(lang, 1, "07", "Grace Ndongo", 12) == "1. 07 Grace Ndongo: 12"
        assert ranking_line(lang, 1, "07", "Grace Ndongo", None) == "1. 07 Grace Ndongo"
    assert sms.top(Lang.EN, [(1, "07", "Grace Ndongo", 12), (1, "03", "Chantal Mbarga", 12), (3, "01", "Amina", 2)]) \
        == "Top 5: 1. 07 Grace Ndongo: 12, 1. 03 Chantal Mbarga: 12, 3. 01 Amina: 2"
    assert sms.top(Lang.FR, [(1, "07", "Grace Ndongo", None), (2, "03", "Chantal Mbarga", None)]) \
        == "Top 5: 1. 07 Grace Ndongo, 2. 03 Chantal Mbarga"
