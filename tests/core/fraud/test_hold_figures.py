"""How many paid orders each rule held and what a person made of them, from the orders' hold reasons: what an
organiser tunes the thresholds by."""

from __future__ import annotations

from gateway.core.fraud.hold_figures import RuleHolds, rules_of, tally
from gateway.db.models import OrderStatus


def test_each_rule_an_order_broke_counts_it_with_what_became_of_it() -> None:
    held = [("payer_velocity: 31 over the limit of 30; address_spread: 6 over the limit of 5", OrderStatus.HELD),
            ("address_spread: 7 over the limit of 5", OrderStatus.PAID),
            ("address_spread: 8 over the limit of 5", OrderStatus.REFUNDED),
            ("quick_payments: paid again within the window", OrderStatus.REFUND_REQUESTED)]
    assert tally(held) == [RuleHolds("address_spread", 3, 1, 1, 1), RuleHolds("payer_velocity", 1, 1, 0, 0),
                           RuleHolds("quick_payments", 1, 0, 0, 1)]
    assert rules_of("blocked_address: blocked since the order was placed") == ["blocked_address"]
    assert tally([]) == []
