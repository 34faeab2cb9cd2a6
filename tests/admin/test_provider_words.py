"""A provider's word on a refund or a payout as the admin pages write it: a sum paid other than asked, recorded in
minor units, read in the organiser's language with both sums as money; any other word left as the provider gave it."""

from __future__ import annotations

from admin.provider_words import provider_word
from gateway.core.money_out.amount_differs import AmountDiffers, read


def test_a_difference_in_shillings_reads_as_money_in_each_language() -> None:
    record = "the provider paid 25000 KES, 30000 were asked"  # cents, as the payouts pass keeps it
    assert provider_word(record, "KES", "en") == "the provider paid Ksh\u00a0250.00, Ksh\u00a0300.00 were asked"
    assert provider_word(record, "KES", "fr") == ("le fournisseur a versé 250,00\u00a0KES, 300,00\u00a0KES "
                                                  "étaient demandés")


def test_the_record_reads_back_and_any_other_word_is_left_as_it_came() -> None:
    differs = AmountDiffers("refunded", 250, "XAF", 300, "owed")
    assert read(differs.line()) == differs
    for word in ("INSUFFICIENT_FUNDS", "the provider refunded lots, 300 were owed", None, ""):
        assert read(word) is None
        assert provider_word(word, "XAF", "en") == (word or "")
