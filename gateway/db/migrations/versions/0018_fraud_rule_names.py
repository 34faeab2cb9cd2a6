"""the per-voter fraud rules apply to every channel that names its voter: their stored thresholds and the
hold reasons they wrote take the rules' channel-free names

Revision ID: 0018_fraud_rule_names
Revises: 0017_telegram_update_failure
Create Date: 2026-11-23 14:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0018_fraud_rule_names'
down_revision = '0017_telegram_update_failure'
branch_labels = None
depends_on = None

# (former name, name) of each threshold in contests.fraud_rules, and of each rule in vote_orders.hold_reason.
THRESHOLDS = (("telegram_orders_per_10_minutes", "voter_orders_per_10_minutes"),
              ("numbers_per_telegram_user", "numbers_per_voter"))
RULES = (("telegram_velocity", "voter_velocity"), ("numbers_per_telegram_user", "numbers_per_voter"))


def rename(thresholds: tuple[tuple[str, str], ...], rules: tuple[tuple[str, str], ...]) -> None:
    for old, new in thresholds:
        op.execute(f"UPDATE contests SET fraud_rules = (fraud_rules - '{old}') || jsonb_build_object('{new}', "
                   f"fraud_rules -> '{old}') WHERE fraud_rules ? '{old}'")
    for old, new in rules:  # a reason is "rule: seen over the limit of n", several joined by "; "
        op.execute(f"UPDATE vote_orders SET hold_reason = regexp_replace(hold_reason, '(^|; ){old}:', "
                   f"'\\1{new}:', 'g') WHERE hold_reason ~ '(^|; ){old}:'")


def upgrade() -> None:
    rename(THRESHOLDS, RULES)


def downgrade() -> None:
    rename(tuple((new, old) for old, new in THRESHOLDS), tuple((new, old) for old, new in RULES))
