"""Fraud rules as plain data and pure functions: what makes an order suspicious enough for a person to look.

A rule does not refuse a vote (the contest's hard limits and blocked numbers do that, before any prompt);
it *holds* a paid order out of the tally until someone approves it (it then counts once) or rejects it
(it is refunded). The rules are evaluated when the order is placed, from what is known then, and again
when its payment is confirmed, from what happened in between (payments in quick succession).

Each rule is declared once, in `DECLARED`: its name, its threshold (key, default, the admin form's label),
the figure it compares and the SQL that counts that figure around a new order. A contest's thresholds
(`FraudRules`), the figures (`Recent`), `THRESHOLDS`, the placement's subqueries (gateway.core.holds) and the
admin form are made from it. The database gathers the `Recent` figures in one query; evaluating them needs no
I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, make_dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import ColumnElement, Integer, ScalarSelect, String, and_, bindparam, func, select

from gateway.core.texts import N_
from gateway.db.models import OrderStatus, VoteOrder


class Rule(StrEnum):
    """The rules' names, as a hold reason and the review queue show them."""

    PAYER_VELOCITY = "payer_velocity"
    ADDRESS_VELOCITY = "address_velocity"
    VOTER_VELOCITY = "voter_velocity"
    PAYER_DAILY_VOTES = "payer_daily_votes"
    QUICK_PAYMENTS = "quick_payments"
    ADDRESS_SPREAD = "address_spread"
    NUMBERS_PER_ADDRESS = "numbers_per_address"
    NUMBERS_PER_VOTER = "numbers_per_voter"
    BLOCKED_ADDRESS = "blocked_address"  # no threshold: an address blocked after the order was placed


@dataclass(frozen=True)
class Threshold:
    """One number of a contest's fraud settings (stored under `key` in `contests.fraud_rules`); 0 turns it off."""

    key: str
    default: int
    label: str  # the admin form's label (translated in the admin's catalogs, or the core's)


class Around:
    """The new order, as the placement's insert binds it (gateway.core.orders.placing.insert_order_parameters), and the
    windows a figure counts over: what a rule's SQL is written with."""

    orders = VoteOrder.__table__.c
    contest = orders.contest_id == bindparam("new_contest_id", type_=Integer)
    payer = bindparam("new_voter_msisdn", type_=String)
    address = bindparam("new_voter_address", type_=String)
    candidate = bindparam("new_candidate_id", type_=Integer)
    # The voter as their channel names them (a chat's user): the same reference on another channel is another voter.
    voter = and_(orders.channel == bindparam("new_channel", type_=String),
                 orders.voter_ref == bindparam("new_voter_ref", type_=String))
    last_10_minutes = orders.created_at > func.now() - timedelta(minutes=10)
    last_hour = orders.created_at > func.now() - timedelta(hours=1)
    last_day = orders.created_at > func.now() - timedelta(days=1)
    # Comparisons, not NOT IN (…): a list parameter makes SQLAlchemy re-render the whole statement on every
    # execution, and this one runs for every vote.
    counted = and_(orders.status != OrderStatus.FAILED, orders.status != OrderStatus.EXPIRED)


def count(*where: ColumnElement[bool]) -> ScalarSelect[Any]:
    return select(func.count()).where(*where).scalar_subquery()


def distinct(column: Any, *where: ColumnElement[bool]) -> ScalarSelect[Any]:
    return select(func.count(func.distinct(column))).where(*where).scalar_subquery()


NewOrder = Mapping[str, Any]  # the inserted order's row


def has_payer(order: NewOrder) -> bool:
    return order["voter_msisdn"] is not None


def has_address(order: NewOrder) -> bool:
    return order["voter_address"] is not None


def has_voter(order: NewOrder) -> bool:
    """Its channel names its voter (`voter_ref`, e.g. a chat's user): the per-voter rules apply."""
    return order["voter_ref"] is not None


@dataclass(frozen=True)
class DeclaredRule:
    rule: Rule
    threshold: Threshold
    figure: str  # the name of what is compared with the threshold (a field of `Recent`)
    # The figure around a new order, *before* it (a scalar subquery of the placement's insert); None: the
    # figure is only known when the payment is confirmed (gateway.core.holds.quick_payments_hit).
    sql: Callable[[], ScalarSelect[Any]] | None = None
    # What the new order itself adds to the figure (the subqueries ran before its row existed).
    own: Callable[[NewOrder], int] = lambda order: 0
    window: Threshold | None = None  # a second number of the same rule, listed after its threshold


orders, at = Around.orders, Around  # a rule's SQL reads as `orders.voter_msisdn == at.payer`
DECLARED: tuple[DeclaredRule, ...] = (
    DeclaredRule(
        Rule.PAYER_VELOCITY, Threshold("payer_orders_per_10_minutes", 30, N_("Orders per payer number in 10 minutes")),
        figure="payer_orders_10_minutes", own=has_payer,
        sql=lambda: count(at.contest, orders.voter_msisdn == at.payer, at.last_10_minutes)),
    DeclaredRule(
        Rule.ADDRESS_VELOCITY, Threshold("address_orders_per_10_minutes", 60, N_("Orders per address in 10 minutes")),
        figure="address_orders_10_minutes", own=has_address,
        sql=lambda: count(at.contest, orders.voter_address == at.address, at.last_10_minutes)),
    DeclaredRule(  # a channel that names its voter (a chat's user): orders per voter
        Rule.VOTER_VELOCITY, Threshold("voter_orders_per_10_minutes", 30, N_("Orders per chat user in 10 minutes")),
        figure="voter_orders_10_minutes", own=has_voter,
        sql=lambda: count(at.contest, at.voter, at.last_10_minutes)),
    DeclaredRule(
        Rule.PAYER_DAILY_VOTES, Threshold("payer_votes_per_day", 5000, N_("Votes per payer number in a day")),
        figure="payer_votes_day", own=lambda order: order["quantity"] if has_payer(order) else 0,
        sql=lambda: select(func.coalesce(func.sum(orders.quantity), 0)).where(
            at.contest, orders.voter_msisdn == at.payer, at.last_day, at.counted).scalar_subquery()),
    DeclaredRule(  # this many paid orders of one payer within this many seconds: counted at confirmation
        Rule.QUICK_PAYMENTS, Threshold("quick_payments", 5, N_("Payments of one payer in quick succession")),
        figure="payer_paid_in_window", window=Threshold("quick_payment_seconds", 60, N_("… within this many seconds"))),
    DeclaredRule(
        Rule.ADDRESS_SPREAD,
        Threshold("candidates_per_address_per_hour", 5, N_("Candidates voted for from one address in an hour")),
        figure="address_candidates_hour", own=has_address,
        sql=lambda: distinct(orders.candidate_id, at.contest, orders.voter_address == at.address,
                             orders.candidate_id != at.candidate, at.last_hour)),
    DeclaredRule(
        Rule.NUMBERS_PER_ADDRESS,
        Threshold("numbers_per_address_per_day", 10, N_("Payer numbers behind one address in a day")),
        figure="address_numbers_day", own=lambda order: has_address(order) and has_payer(order),
        sql=lambda: distinct(orders.voter_msisdn, at.contest, orders.voter_address == at.address,
                             orders.voter_msisdn != at.payer, at.last_day)),
    DeclaredRule(  # payer numbers one voter of a channel that names them (a chat's user) used
        Rule.NUMBERS_PER_VOTER, Threshold("numbers_per_voter", 3, N_("Payer numbers of one chat user")),
        figure="voter_numbers", own=lambda order: has_voter(order) and has_payer(order),
        sql=lambda: distinct(orders.voter_msisdn, at.contest, at.voter, orders.voter_msisdn != at.payer)),
)

SETTINGS: tuple[Threshold, ...] = tuple(
    setting for declared in DECLARED for setting in (declared.threshold, declared.window) if setting is not None)
# Which figure each threshold is compared with.
THRESHOLDS: tuple[tuple[Rule, str, str], ...] = tuple(
    (declared.rule, declared.figure, declared.threshold.key) for declared in DECLARED)
LABELS: dict[str, str] = {setting.key: setting.label for setting in SETTINGS}


class Thresholds:
    """A contest's thresholds (the fields of `FraudRules`, one per `SETTINGS`); 0 turns a rule off. The defaults
    hold what no honest fan does on a show night."""

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> Self:
        """From a contest's stored settings: unknown keys are ignored, missing ones take the default."""
        known = cls.names()
        values = {k: int(v) for k, v in (stored or {}).items() if k in known}
        if any(v < 0 for v in values.values()):
            raise ValueError("fraud thresholds are counts or seconds: none may be negative")
        return cls(**values)

    def __init__(self, **values: int) -> None:  # made by the dataclass: for the type checker only
        raise NotImplementedError

    def limit(self, key: str) -> int:
        value: int = getattr(self, key)
        return value

    def stored(self) -> dict[str, int]:
        return {key: self.limit(key) for key in self.names()}

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The thresholds, in the order a form lists them."""
        return tuple(setting.key for setting in SETTINGS)


class Figures:
    """What the database knows around one order, counted *including* that order (the fields of `Recent`, one
    per declared figure, and whether its address is blocked)."""

    address_blocked: bool

    def __init__(self, **values: int) -> None:  # made by the dataclass: for the type checker only
        raise NotImplementedError

    def seen(self, figure: str) -> int:
        value: int = getattr(self, figure)
        return value


if TYPE_CHECKING:  # what the type checker knows of the two dataclasses made below
    FraudRules = Thresholds
    Recent = Figures
else:
    FraudRules = make_dataclass(
        "FraudRules", [(setting.key, int, field(default=setting.default)) for setting in SETTINGS],
        bases=(Thresholds,), frozen=True)
    Recent = make_dataclass(
        "Recent", [*((declared.figure, int, field(default=0)) for declared in DECLARED),
                   ("address_blocked", bool, field(default=False))], bases=(Figures,), frozen=True)


@dataclass(frozen=True)
class Hit:
    rule: Rule
    seen: int
    limit: int

    def reason(self) -> str:
        """One line for the review queue: which rule, what was seen, against what."""
        return f"{self.rule.value}: {self.seen} over the limit of {self.limit}"


# The rules that count what comes from one address, and how many more a shared address may see: behind a mobile
# operator's address (gateway.core.shared_addresses) thousands of subscribers vote, from their own numbers, for
# every candidate, so its figures are a crowd's. Past a hundred people's worth it is still a flood from one address.
ADDRESS_RULES = frozenset({Rule.ADDRESS_VELOCITY, Rule.ADDRESS_SPREAD, Rule.NUMBERS_PER_ADDRESS})
CROWD = 100


def evaluate(rules: Thresholds, recent: Figures, *, crowd: bool = False) -> tuple[Hit, ...]:
    """Every rule the figures break (empty: nothing to hold). A threshold of 0 is off. `crowd`: the address is one
    many people share (a carrier's NAT): its address rules allow a crowd (CROWD times a person's threshold), and
    the per-number and per-user rules judge each person as everywhere."""
    hits = [Hit(Rule.BLOCKED_ADDRESS, 1, 0)] if recent.address_blocked else []
    for rule, figure, threshold in THRESHOLDS:
        limit, seen = rules.limit(threshold), recent.seen(figure)
        if crowd and rule in ADDRESS_RULES:
            limit *= CROWD
        if limit and seen > limit:
            hits.append(Hit(rule, seen, limit))
    return tuple(hits)


def hold_reason(hits: tuple[Hit, ...]) -> str | None:
    """What the review queue shows for a held order (None: count it)."""
    return "; ".join(hit.reason() for hit in hits) or None
