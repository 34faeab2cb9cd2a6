"""The fraud rules: each signal scores its points exactly when its figure passes a threshold that is on, and an
order is held exactly when its points reach the contest's hold score."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.fraud.rules import (
    CROWD,
    PLACEMENT_RULES,
    FraudRules,
    Recent,
    Rule,
    evaluate,
    risk_hits,
)
from gateway.core.providers import PaymentRisk

counts = st.integers(min_value=0, max_value=10_000)
recents = st.builds(Recent, **{f.name: counts for f in fields(Recent) if f.name != "address_blocked"},
                    address_blocked=st.booleans())
rule_sets = st.builds(FraudRules, **{f.name: counts for f in fields(FraudRules)})


def test_an_ordinary_fan_is_not_held() -> None:
    fan = Recent(payer_orders_10_minutes=3, address_orders_10_minutes=3, payer_votes_day=150,
                 address_candidates_hour=1, address_numbers_day=1)
    verdict = evaluate(FraudRules(), fan)
    assert verdict.hits == () and not verdict.held and verdict.reason() is None


def test_a_strong_signal_holds_alone_with_a_readable_reason() -> None:
    verdict = evaluate(FraudRules(), Recent(payer_orders_10_minutes=31))
    assert verdict.held
    assert verdict.reason() == "payer_velocity: 31 over the limit of 30 (+100) = 100 points, held at 100"


def test_a_weak_signal_alone_holds_nothing_but_two_together_do() -> None:
    """Six candidates from one home address in an hour: a family; with eleven numbers behind it, a SIM box."""
    assert not evaluate(FraudRules(), Recent(address_candidates_hour=6)).held
    both = evaluate(FraudRules(hold_score=150), Recent(address_numbers_day=11, address_candidates_hour=6))
    assert {hit.rule for hit in both.hits} == {Rule.NUMBERS_PER_ADDRESS, Rule.ADDRESS_SPREAD}
    assert both.score == 150 and both.held


def test_a_shared_address_is_a_crowd_for_its_address_rules_only() -> None:
    crowd = Recent(address_numbers_day=11 * 50, address_candidates_hour=20, payer_orders_10_minutes=31)
    verdict = evaluate(FraudRules(), crowd, crowd=True)
    assert [hit.rule for hit in verdict.hits] == [Rule.PAYER_VELOCITY]  # each person is still judged as everywhere
    flood = evaluate(FraudRules(), Recent(address_numbers_day=10 * CROWD + 1), crowd=True)
    assert [hit.rule for hit in flood.hits] == [Rule.NUMBERS_PER_ADDRESS]


def test_a_payer_a_person_refused_before_is_held() -> None:
    verdict = evaluate(FraudRules(), Recent(payer_refused=1))
    assert verdict.held and verdict.reason() == "payer_history: 1 refused before (+100) = 100 points, held at 100"


def test_a_blocked_address_is_always_held() -> None:
    assert [hit.rule for hit in evaluate(FraudRules(), Recent(address_blocked=True)).hits] == [Rule.BLOCKED_ADDRESS]
    assert evaluate(FraudRules(hold_score=400), Recent(address_blocked=True)).held


def test_the_provider_s_word_scores_a_risky_or_foreign_card() -> None:
    assert risk_hits(None, "XAF") == () and risk_hits(PaymentRisk("normal", "CM"), "XAF") == ()
    assert [(h.rule, h.points) for h in risk_hits(PaymentRisk("normal", "FR"), "XAF")] == [(Rule.CARD_COUNTRY, 40)]
    assert sum(h.points for h in risk_hits(PaymentRisk("elevated", "us"), "XAF")) == 90  # one more signal holds it
    assert [h.rule for h in risk_hits(PaymentRisk("highest", "GA"), "XAF")] == [Rule.PROVIDER_RISK]


@given(rule_sets, recents)
def test_a_rule_hits_exactly_when_its_figure_passes_a_threshold_that_is_on(rules: FraudRules, recent: Recent) -> None:
    verdict = evaluate(rules, recent)
    hit_rules = {hit.rule for hit in verdict.hits}
    for declared in PLACEMENT_RULES:
        limit = getattr(rules, declared.threshold.key)
        assert (declared.rule in hit_rules) == (limit > 0 and getattr(recent, declared.figure) > limit)
    assert (Rule.BLOCKED_ADDRESS in hit_rules) == recent.address_blocked
    assert verdict.held == (0 < rules.hold_score <= sum(hit.points for hit in verdict.hits))


@given(recents)
def test_rules_all_off_hold_nothing_but_a_payer_or_voter_refused_before(recent: Recent) -> None:
    off = FraudRules(**dict.fromkeys((f.name for f in fields(FraudRules) if f.name != "hold_score"), 0))
    hits = evaluate(off, replace(recent, address_blocked=False)).hits
    assert [hit.rule for hit in hits] == ([Rule.PAYER_HISTORY] if recent.payer_refused or recent.voter_refused else [])
    assert not evaluate(FraudRules(hold_score=0), recent).held


def test_a_contest_s_stored_rules_round_trip_and_bad_values_are_refused() -> None:
    rules = FraudRules.of({"quick_payments": "3", "unknown": 9})
    assert rules.quick_payments == 3 and rules.payer_votes_per_day == FraudRules().payer_votes_per_day
    assert FraudRules.of(rules.stored()) == rules
    with pytest.raises(ValueError, match="negative"):
        FraudRules.of({"quick_payments": -1})
