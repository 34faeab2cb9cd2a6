"""The fraud rules hold exactly the orders whose figures break a contest's thresholds, and nothing else."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.fraud import THRESHOLDS, FraudRules, Recent, Rule, evaluate, hold_reason

counts = st.integers(min_value=0, max_value=10_000)
recents = st.builds(Recent, **{f.name: counts for f in fields(Recent) if f.name != "address_blocked"},
                    address_blocked=st.booleans())
rule_sets = st.builds(FraudRules, **{f.name: counts for f in fields(FraudRules)})


def test_an_ordinary_fan_is_not_held() -> None:
    fan = Recent(payer_orders_10_minutes=3, address_orders_10_minutes=3, payer_votes_day=150,
                 payer_paid_in_window=1, address_candidates_hour=1, address_numbers_day=1)
    assert evaluate(FraudRules(), fan) == ()
    assert hold_reason(evaluate(FraudRules(), fan)) is None


def test_a_burst_of_payments_from_one_number_is_held_with_a_readable_reason() -> None:
    hits = evaluate(FraudRules(quick_payments=5), Recent(payer_paid_in_window=6))
    assert [hit.rule for hit in hits] == [Rule.QUICK_PAYMENTS]
    assert hold_reason(hits) == "quick_payments: 6 over the limit of 5"


def test_one_address_behind_many_numbers_and_candidates_is_held_for_both() -> None:
    hits = evaluate(FraudRules(), Recent(address_numbers_day=11, address_candidates_hour=6))
    assert {hit.rule for hit in hits} == {Rule.NUMBERS_PER_ADDRESS, Rule.ADDRESS_SPREAD}


def test_a_blocked_address_is_always_held() -> None:
    assert [hit.rule for hit in evaluate(FraudRules(), Recent(address_blocked=True))] == [Rule.BLOCKED_ADDRESS]


@given(rule_sets, recents)
def test_a_rule_hits_exactly_when_its_figure_passes_a_threshold_that_is_on(rules: FraudRules, recent: Recent) -> None:
    hit_rules = {hit.rule for hit in evaluate(rules, recent)}
    for rule, figure, threshold in THRESHOLDS:
        limit = getattr(rules, threshold)
        assert (rule in hit_rules) == (limit > 0 and getattr(recent, figure) > limit)
    assert (Rule.BLOCKED_ADDRESS in hit_rules) == recent.address_blocked


@given(recents)
def test_rules_all_off_hold_only_blocked_addresses(recent: Recent) -> None:
    off = FraudRules(**dict.fromkeys((f.name for f in fields(FraudRules)), 0))
    assert evaluate(off, replace(recent, address_blocked=False)) == ()


def test_a_contest_s_stored_rules_round_trip_and_bad_values_are_refused() -> None:
    rules = FraudRules.of({"quick_payments": "3", "unknown": 9})
    assert rules.quick_payments == 3 and rules.payer_votes_per_day == FraudRules().payer_votes_per_day
    assert FraudRules.of(rules.stored()) == rules
    with pytest.raises(ValueError, match="negative"):
        FraudRules.of({"quick_payments": -1})
