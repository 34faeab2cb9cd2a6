"""Fraud rules as plain data and pure functions: the signals that make a paid order worth a person's look.

Every vote is paid, so a rule does not refuse a vote (the contest's hard limits and blocked numbers do that,
before any prompt): it *holds* a paid order out of the tally until someone approves it (it then counts once) or
rejects it (it is refunded). Each rule is a signal: a figure around the order (counted by
gateway.core.fraud.fraud_counters) against a threshold an honest fan stays under, worth some points when passed. An
order is held when its points reach the contest's `hold_score`: a strong signal (one number paying thirty times in
ten minutes) holds alone, weaker ones (many candidates from one address, a card from abroad) only together.

Addresses many people share (a mobile operator's carrier-grade NAT, or one the service learned:
gateway.core.fraud.shared_addresses) are a crowd's: their address rules allow CROWD times a person's threshold,
and the per-number and per-user rules judge each person as everywhere. The signals are judged at placement, from
the counters, and again at confirmation, from what happened in between (payments in quick succession) and what the
provider says of the payment (`gateway.core.providers.PaymentRisk`). Evaluating them needs no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, make_dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from gateway.core.providers import PaymentRisk
from gateway.core.texts import N_


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
    PAYER_HISTORY = "payer_history"  # a person refused an earlier order of this payer
    PROVIDER_RISK = "provider_risk"  # the provider's own risk answer (Stripe Radar's risk level)
    CARD_COUNTRY = "card_country"  # a card issued outside the countries of the contest's currency
    BLOCKED_ADDRESS = "blocked_address"  # no threshold: an address blocked after the order was placed
    HELD_TOGETHER = "held_together"  # counted, then held with a later order of the same payer (held_together.py)


@dataclass(frozen=True)
class Threshold:
    """One number of a contest's fraud settings (stored under `key` in `contests.fraud_rules`); 0 turns it off."""

    key: str
    default: int
    label: str  # the admin form's label (translated in the admin's catalogs, or the core's)


@dataclass(frozen=True)
class DeclaredRule:
    rule: Rule
    threshold: Threshold
    figure: str  # the figure compared with the threshold: a counter of gateway.core.fraud.fraud_counters
    points: int  # what passing the threshold adds to the order's score
    crowd: bool = False  # an address rule: a shared address allows CROWD times the threshold
    window: Threshold | None = None  # a second number of the same rule, listed after its threshold
    at_placement: bool = True  # False: judged at confirmation (gateway.core.fraud.holds.judged_at_confirmation)


HOLD_SCORE = Threshold("hold_score", 100, N_("Points at which a paid order is held for a person"))
DECLARED: tuple[DeclaredRule, ...] = (
    DeclaredRule(Rule.PAYER_VELOCITY,
                 Threshold("payer_orders_per_10_minutes", 30, N_("Orders per payer number in 10 minutes")),
                 figure="payer_orders_10_minutes", points=100),
    DeclaredRule(Rule.ADDRESS_VELOCITY,
                 Threshold("address_orders_per_10_minutes", 60, N_("Orders per address in 10 minutes")),
                 figure="address_orders_10_minutes", points=100, crowd=True),
    DeclaredRule(Rule.VOTER_VELOCITY,  # a channel that names its voter (a chat's user, a browser): orders per voter
                 Threshold("voter_orders_per_10_minutes", 30, N_("Orders per chat user or browser in 10 minutes")),
                 figure="voter_orders_10_minutes", points=100),
    DeclaredRule(Rule.PAYER_DAILY_VOTES,
                 Threshold("payer_votes_per_day", 5000, N_("Votes per payer number in a day")),
                 figure="payer_votes_day", points=100),
    DeclaredRule(Rule.QUICK_PAYMENTS,  # this many paid orders of one payer within this many seconds
                 Threshold("quick_payments", 5, N_("Payments of one payer in quick succession")),
                 figure="payer_paid_in_window", points=100, at_placement=False,
                 window=Threshold("quick_payment_seconds", 60, N_("… within this many seconds"))),
    DeclaredRule(Rule.ADDRESS_SPREAD,
                 Threshold("candidates_per_address_per_hour", 5,
                           N_("Candidates voted for from one address in an hour")),
                 figure="address_candidates_hour", points=50, crowd=True),
    DeclaredRule(Rule.NUMBERS_PER_ADDRESS,
                 Threshold("numbers_per_address_per_day", 10, N_("Payer numbers behind one address in a day")),
                 figure="address_numbers_day", points=100, crowd=True),
    DeclaredRule(Rule.NUMBERS_PER_VOTER,  # payer numbers one voter of a channel that names them (a chat's user) used
                 Threshold("numbers_per_voter", 3, N_("Payer numbers of one chat user or browser")),
                 figure="voter_numbers", points=100),
)
# No threshold: an order of this payer (or chat user, or browser) refused by a person or charged back in the last 90
# days (gateway.core.fraud.holds.reject_held, gateway.core.money_in.chargebacks).
HISTORY_POINTS = 100
# The provider's word on a payment, judged at confirmation: Stripe Radar's risk levels, and a card from abroad.
RISK_POINTS = {"elevated": 50, "highest": 100}
FOREIGN_CARD_POINTS = 40
# Where a currency's cards are issued at home: a card from elsewhere is one signal (a diaspora fan's holds nothing,
# even rated elevated by Radar; with one more signal, it does).
CURRENCY_COUNTRIES = {
    "XAF": frozenset({"CM", "GA", "CG", "TD", "CF", "GQ"}),
    "XOF": frozenset({"BJ", "BF", "CI", "GW", "ML", "NE", "SN", "TG"}),
    "NGN": frozenset({"NG"}), "GHS": frozenset({"GH"}), "GNF": frozenset({"GN"}), "CDF": frozenset({"CD"}),
}

SETTINGS: tuple[Threshold, ...] = (HOLD_SCORE, *(
    setting for declared in DECLARED for setting in (declared.threshold, declared.window) if setting is not None))
LABELS: dict[str, str] = {setting.key: setting.label for setting in SETTINGS}
PLACEMENT_RULES = tuple(declared for declared in DECLARED if declared.at_placement)
# The figures an order is judged by at placement (its `Recent`), besides whether its address is blocked.
PLACEMENT_FIGURES = (*(declared.figure for declared in PLACEMENT_RULES), "payer_refused", "voter_refused")


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
        "Recent", [*((figure, int, field(default=0)) for figure in PLACEMENT_FIGURES),
                   ("address_blocked", bool, field(default=False))],
        bases=(Figures,), frozen=True)


@dataclass(frozen=True)
class Hit:
    """A signal an order gave: which, what was seen (against what limit, if it has one), and its points."""

    rule: Rule
    seen: int | str
    limit: int
    points: int

    def reason(self) -> str:
        """One part of the review queue's line: which rule, what was seen, against what, worth what."""
        if self.limit:
            return f"{self.rule.value}: {self.seen} over the limit of {self.limit} (+{self.points})"
        return f"{self.rule.value}: {self.seen} (+{self.points})"


@dataclass(frozen=True)
class Verdict:
    hits: tuple[Hit, ...]
    hold_at: int  # the contest's hold_score (0: nothing is held)

    @property
    def score(self) -> int:
        return sum(hit.points for hit in self.hits)

    @property
    def held(self) -> bool:
        return 0 < self.hold_at <= self.score

    def reason(self) -> str | None:
        """What the review queue shows for a held order, naming every signal (None: count it)."""
        if not self.held:
            return None
        return f"{'; '.join(hit.reason() for hit in self.hits)} = {self.score} points, held at {self.hold_at}"


# Behind a mobile operator's address (gateway.core.fraud.shared_addresses) thousands of subscribers vote, from their own
# numbers, for every candidate, so its figures are a crowd's. Past a hundred people's worth it is still a flood.
CROWD = 100


def evaluate(rules: Thresholds, recent: Figures, *, crowd: bool = False) -> Verdict:
    """The signals the figures give at placement and whether they hold the order. A threshold of 0 is off.
    `crowd`: the address is one many people share: its address rules allow CROWD times a person's threshold."""
    hits = [Hit(Rule.BLOCKED_ADDRESS, "blocked", 0, rules.limit(HOLD_SCORE.key))] if recent.address_blocked else []
    for declared in PLACEMENT_RULES:
        limit, seen = rules.limit(declared.threshold.key), recent.seen(declared.figure)
        if crowd and declared.crowd:
            limit *= CROWD
        if limit and seen > limit:
            hits.append(Hit(declared.rule, seen, limit, declared.points))
    if refused := max(recent.seen("payer_refused"), recent.seen("voter_refused")):
        hits.append(Hit(Rule.PAYER_HISTORY, f"{refused} refused before", 0, HISTORY_POINTS))
    return Verdict(tuple(hits), rules.limit(HOLD_SCORE.key))


def risk_hits(risk: PaymentRisk | None, currency: str) -> tuple[Hit, ...]:
    """The signals of a provider's word on the payment, judged at confirmation."""
    if risk is None:
        return ()
    hits = []
    if points := RISK_POINTS.get(risk.provider_risk or ""):
        hits.append(Hit(Rule.PROVIDER_RISK, risk.provider_risk or "", 0, points))
    home = CURRENCY_COUNTRIES.get(currency.upper())
    if risk.card_country and home is not None and risk.card_country.upper() not in home:
        hits.append(Hit(Rule.CARD_COUNTRY, risk.card_country.upper(), 0, FOREIGN_CARD_POINTS))
    return tuple(hits)
