"""How far a balance may move from the books between two readings before it is a difference."""

from __future__ import annotations

import uuid

from gateway.core.money_out.balance_books import AccountBooks, Reading, effect_on, unexplained
from gateway.core.money_out.money_check import BookEntry, Difference, ProviderWord


def test_money_on_its_way_out_may_have_left_the_balance_or_not() -> None:
    before = Reading(10_000, AccountBooks(-500))
    sent = AccountBooks(-500, maybe_out=300)  # a payout of 300 sent, MTN's word not in yet
    assert unexplained(before, Reading(9_700, sent)) == 0  # MTN debited it already
    assert unexplained(before, Reading(10_000, sent)) == 0  # not yet
    assert unexplained(before, Reading(9_600, sent)) == -100  # 100 gone that nothing on its way explains
    assert unexplained(Reading(9_700, sent), Reading(9_700, AccountBooks(-800))) == 0  # its word came: succeeded
    assert unexplained(Reading(10_000, sent), Reading(10_000, AccountBooks(-500))) == 0  # or failed


def test_money_on_its_way_in_and_a_sweep_by_hand() -> None:
    before = Reading(1_000, AccountBooks(1_000, maybe_in=200))
    assert unexplained(before, Reading(1_200, AccountBooks(1_200))) == 0
    # Counted, yet not in the balance: from balances alone, as likely as 200 that left by hand while it landed
    # before the first reading. The per-reference check is what tells (its `missing_at_provider`).
    assert unexplained(before, Reading(1_000, AccountBooks(1_200))) == 0
    assert unexplained(Reading(1_000, AccountBooks(1_000)), Reading(1_000, AccountBooks(1_200))) == -200
    assert unexplained(before, Reading(0, AccountBooks(1_000))) == -800  # 1,000 swept out, 200 maybe on its way


def test_a_difference_found_meanwhile_moves_its_own_account_only() -> None:
    key = uuid.uuid4()
    short_payment = Difference("amount", BookEntry("payment", key, True, 1_000, "XAF"),
                               ProviderWord(True, True, 900, "XAF"))
    unknown_refund = Difference("missing_at_provider", BookEntry("refund", key, True, 300, "XAF"),
                                ProviderWord(False, False))
    found = [short_payment, unknown_refund]
    assert effect_on("collection", "XAF", found) == -100
    assert effect_on("disbursement", "XAF", found) == 300  # the books took 300 out that never left
    assert effect_on("collection", "EUR", found) == 0
    assert unexplained(Reading(5_000, AccountBooks(5_000)), Reading(4_900, AccountBooks(5_000)),
                       effect_on("collection", "XAF", found)) == 0
