"""Fraud rules as plain data and pure functions: what makes an order suspicious enough for a person to look.

A rule does not refuse a vote (the contest's hard limits and blocked numbers do that, before any prompt);
it *holds* a paid order out of the tally until someone approves it (it then counts once) or rejects it
(it is refunded). The rules are evaluated when the order is placed, from what is known then, and again
when its payment is confirmed, from what happened in between (payments in quick succession).

The database gathers the `Recent` figures in one query; everything here is testable without I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any


class Rule(StrEnum):
    PAYER_VELOCITY = "payer_velocity"  # orders per payer number in the last ten minutes
    ADDRESS_VELOCITY = "address_velocity"  # orders per client address in the last ten minutes
    TELEGRAM_VELOCITY = "telegram_velocity"  # orders per Telegram user in the last ten minutes
    PAYER_DAILY_VOTES = "payer_daily_votes"  # votes per payer number in 24 hours
    QUICK_PAYMENTS = "quick_payments"  # paid orders of one payer in a short window
    ADDRESS_SPREAD = "address_spread"  # candidates voted for from one address in an hour
    NUMBERS_PER_ADDRESS = "numbers_per_address"  # payer numbers behind one address in 24 hours
    NUMBERS_PER_TELEGRAM_USER = "numbers_per_telegram_user"  # payer numbers one Telegram user used
    BLOCKED_ADDRESS = "blocked_address"


@dataclass(frozen=True)
class FraudRules:
    """A contest's thresholds; 0 turns a rule off. The defaults hold what no honest fan does on a show night."""

    payer_orders_per_10_minutes: int = 30
    address_orders_per_10_minutes: int = 60
    telegram_orders_per_10_minutes: int = 30
    payer_votes_per_day: int = 5000
    quick_payments: int = 5  # this many paid orders of one payer …
    quick_payment_seconds: int = 60  # … within this many seconds
    candidates_per_address_per_hour: int = 5
    numbers_per_address_per_day: int = 10
    numbers_per_telegram_user: int = 3

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> FraudRules:
        """From a contest's stored settings: unknown keys are ignored, missing ones take the default."""
        known = {f.name for f in fields(cls)}
        values = {k: int(v) for k, v in (stored or {}).items() if k in known}
        if any(v < 0 for v in values.values()):
            raise ValueError("fraud thresholds are counts or seconds: none may be negative")
        return cls(**values)

    def stored(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The thresholds, in the order a form lists them."""
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Recent:
    """What the database knows around one order, counted *including* that order."""

    payer_orders_10_minutes: int = 0
    address_orders_10_minutes: int = 0
    telegram_orders_10_minutes: int = 0
    payer_votes_day: int = 0
    payer_paid_in_window: int = 0  # paid orders of the payer within `quick_payment_seconds`
    address_candidates_hour: int = 0
    address_numbers_day: int = 0
    telegram_numbers: int = 0
    address_blocked: bool = False


@dataclass(frozen=True)
class Hit:
    rule: Rule
    seen: int
    limit: int

    def reason(self) -> str:
        """One line for the review queue: which rule, what was seen, against what."""
        return f"{self.rule.value}: {self.seen} over the limit of {self.limit}"


# Which figure each threshold is compared with.
THRESHOLDS: tuple[tuple[Rule, str, str], ...] = (
    (Rule.PAYER_VELOCITY, "payer_orders_10_minutes", "payer_orders_per_10_minutes"),
    (Rule.ADDRESS_VELOCITY, "address_orders_10_minutes", "address_orders_per_10_minutes"),
    (Rule.TELEGRAM_VELOCITY, "telegram_orders_10_minutes", "telegram_orders_per_10_minutes"),
    (Rule.PAYER_DAILY_VOTES, "payer_votes_day", "payer_votes_per_day"),
    (Rule.QUICK_PAYMENTS, "payer_paid_in_window", "quick_payments"),
    (Rule.ADDRESS_SPREAD, "address_candidates_hour", "candidates_per_address_per_hour"),
    (Rule.NUMBERS_PER_ADDRESS, "address_numbers_day", "numbers_per_address_per_day"),
    (Rule.NUMBERS_PER_TELEGRAM_USER, "telegram_numbers", "numbers_per_telegram_user"),
)


def evaluate(rules: FraudRules, recent: Recent) -> tuple[Hit, ...]:
    """Every rule the figures break (empty: nothing to hold). A threshold of 0 is off."""
    hits = [Hit(Rule.BLOCKED_ADDRESS, 1, 0)] if recent.address_blocked else []
    for rule, figure, threshold in THRESHOLDS:
        limit, seen = getattr(rules, threshold), getattr(recent, figure)
        if limit and seen > limit:
            hits.append(Hit(rule, seen, limit))
    return tuple(hits)


def hold_reason(hits: tuple[Hit, ...]) -> str | None:
    """What the review queue shows for a held order (None: count it)."""
    return "; ".join(hit.reason() for hit in hits) or None
