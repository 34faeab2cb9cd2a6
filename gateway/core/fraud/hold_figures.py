"""How many paid orders each fraud rule held in a contest, and what a person made of them (counted after review,
refused, still waiting): the figures an organiser tunes the thresholds by. A held order names every rule it
broke (gateway.core.fraud.rules.hold_reason), so one order may count under two rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gateway.core.fraud.holds import verdict_on
from gateway.core.fraud.rules import FraudRules
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import OrderStatus, VoteOrder

# The states of an order that was paid: one never paid was never held, whatever its placement foresaw.
PAID_ONCE = (OrderStatus.HELD, OrderStatus.PAID, OrderStatus.FLAGGED, OrderStatus.REFUND_REQUESTED,
             OrderStatus.REFUNDED)


@dataclass(frozen=True)
class RuleHolds:
    rule: str
    held: int  # paid orders the rule held, in all
    waiting: int  # still held, for a person
    counted: int  # counted after a person looked
    refused: int  # refused by a person (owed back, or given back)


def rules_of(reason: str) -> list[str]:
    """The rules a hold reason names (`payer_velocity: 31 over the limit of 30; address_spread: …`)."""
    return [part.split(":", 1)[0].strip() for part in reason.split(";") if ":" in part]


def tally(held: Iterable[tuple[str, OrderStatus]]) -> list[RuleHolds]:
    """Per rule, from each held order's reason and its status now; the rule that held most first."""
    counts: dict[str, Counter[OrderStatus]] = {}
    for reason, status in held:
        for rule in rules_of(reason):
            counts.setdefault(rule, Counter())[status] += 1
    return sorted((RuleHolds(rule, sum(by.values()), by[OrderStatus.HELD], by[OrderStatus.PAID],
                             by[OrderStatus.REFUND_REQUESTED] + by[OrderStatus.REFUNDED])
                   for rule, by in counts.items()), key=lambda line: (-line.held, line.rule))


async def holds_by_rule(sessions: Sessions, contest_id: int) -> list[RuleHolds]:
    async with autocommit(sessions) as session:
        rows = await session.execute(select(VoteOrder.hold_reason, VoteOrder.status).where(
            VoteOrder.contest_id == contest_id, VoteOrder.hold_reason.is_not(None), VoteOrder.status.in_(PAID_ONCE)))
        return tally((reason, status) for reason, status in rows if reason)


@dataclass(frozen=True)
class Preview:
    """Thresholds tried on a contest's latest orders, on the figures each was placed with."""

    orders: int  # the latest orders that kept their figures (those placed before figures were kept have none)
    held_now: int  # of them, how many the contest's thresholds held at placement
    would_hold: int  # how many the thresholds tried would have held


def would_hold(rules: FraudRules, order: Mapping[str, Any]) -> bool:
    """Whether `rules` hold this order, on the figures it was placed with (the signals judged at confirmation, quick
    payments and the provider's word, are not tried: they are only known then)."""
    return verdict_on(rules, order["fraud_figures"] or {}).held


async def preview(sessions: Sessions, contest_id: int, rules: FraudRules, last: int = 1000) -> Preview:
    orders = VoteOrder.__table__.c
    async with autocommit(sessions) as session:
        rows = (await session.execute(
            select(orders.fraud_figures, orders.hold_reason)
            .where(orders.contest_id == contest_id, orders.fraud_figures.is_not(None))
            .order_by(orders.created_at.desc()).limit(last))).all()
    placed = [dict(row._mapping) for row in rows]
    return Preview(len(placed), sum(1 for order in placed if order["hold_reason"]),
                   sum(1 for order in placed if would_hold(rules, order)))
