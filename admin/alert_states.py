"""An alert's life as Prometheus leads it: a rule's condition holding for a set of labels makes the alert pending,
firing once it has held for the rule's `for:` (at once without one), and gone as soon as it no longer holds
(Prometheus keeps no resolved alert among its active ones). The control room's in-process alerts are evaluated at
each look (every few seconds while a room is open), so a `for:` counts from the first look that saw the
condition, as Prometheus' counts from its first evaluation after a restart.

`Alert` is also what the room shows of Prometheus' own alerts (`admin.prometheus_alerts`). Pure: tested without
I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from admin.alert_rules import Rule

FIRING, PENDING, INACTIVE = "firing", "pending", "inactive"
Labels = tuple[tuple[str, str], ...]  # ((name, value), …) sorted: the alert's own labels, the rule's name apart


@dataclass(frozen=True)
class Condition:
    """A rule's condition for one set of labels, at one evaluation."""

    rule: Rule
    holds: bool
    detail: str  # the figure behind it, in numbers
    labels: Labels = ()


@dataclass(frozen=True)
class Alert:
    name: str  # the rule's name in deploy/prometheus/rules.yml
    state: str  # FIRING, PENDING or INACTIVE
    detail: str
    labels: dict[str, str] = field(default_factory=dict)
    active_for: float | None = None  # seconds since its condition began to hold (None: inactive)

    @property
    def firing(self) -> bool:
        return self.state == FIRING

    @property
    def key(self) -> str:
        """The rule's name and its labels' values: "ProviderFailing:mtn"."""
        return ":".join([self.name, *self.labels.values()])


class AlertStates:
    """When each (rule, labels) condition began to hold, from one evaluation to the next."""

    def __init__(self) -> None:
        self.active_since: dict[tuple[str, Labels], float] = {}
        self.last_fired: dict[str, float] = {}  # rule -> the last evaluation it fired at (any labels)

    def fired_ago(self, now: float, rule: str) -> float | None:
        """Seconds since `rule` last fired (0: it fires); None: it never fired here."""
        return None if rule not in self.last_fired else now - self.last_fired[rule]

    def evaluate(self, now: float, conditions: Iterable[Condition]) -> list[Alert]:
        """The alerts as of `now`, quiet ones included; a condition absent or false ends its alert."""
        seen: dict[tuple[str, Labels], float] = {}
        found: list[Alert] = []
        for condition in conditions:
            key = (condition.rule.name, condition.labels)
            if not condition.holds:
                found.append(Alert(condition.rule.name, INACTIVE, condition.detail, dict(condition.labels)))
                continue
            since = seen[key] = self.active_since.get(key, now)
            held = now - since
            state = FIRING if held >= condition.rule.for_seconds else PENDING
            if state == FIRING:
                self.last_fired[condition.rule.name] = now
            found.append(Alert(condition.rule.name, state, condition.detail, dict(condition.labels), held))
        self.active_since = seen
        return found
