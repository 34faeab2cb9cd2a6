"""Failure reasons read by voters."""

from gateway.core.money_in.reasons import readable_reason


def test_known_codes_read_as_sentences_with_the_code_kept() -> None:
    assert readable_reason("APPROVAL_REJECTED") == "The payment was declined on the phone. (APPROVAL_REJECTED)"
    assert readable_reason("not_enough_funds").startswith("There was not enough money")


def test_unknown_reasons_pass_through_and_nothing_becomes_a_default() -> None:
    assert readable_reason("Solde insuffisant") == "Solde insuffisant"
    assert readable_reason(None) == "The payment failed."
