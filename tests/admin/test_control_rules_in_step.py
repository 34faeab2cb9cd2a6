"""The control room's in-process alerts are deploy/prometheus/rules.yml's: each one it evaluates is a rule there
with the same thresholds, windows and `for:`, every rule there is evaluated or named with the reason it cannot be,
and each has its words on the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from admin.alert_rules import COMPUTED, NOT_COMPUTED, PERIODIC_PASS_SILENT, Rule
from admin.control import MEANINGS
from assembly.worker.passes import SILENT_AFTER

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
SECONDS = {"s": 1, "m": 60, "h": 3600}
RANGE = re.compile(r"\[(\d+)([smh])\]|offset\s+(\d+)([smh])")  # a range selector's window, or an offset
RECORDED = re.compile(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+")
BUCKET = re.compile(r'le="([0-9.]+)"')  # the SLO's bucket bound
# What is not a figure of the rule: its other quoted label values, the complement of a share ("1 - …"), a series
# times 0 (kept only for its labels), the names of series and functions.
NOT_FIGURES = (re.compile(r'"[^"]*"'), re.compile(r"^\s*1\s*-"), re.compile(r"(?<![\d.])0\s*\*"),
               re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*"))
PRODUCT = re.compile(r"(\d+(?:\.\d+)?)\s*\*\s*(\d+(?:\.\d+)?)")  # "14.4 * 0.01": one figure
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def duration(text: str | None) -> float:
    if not text:
        return 0.0
    return float(sum(int(n) * SECONDS[unit] for n, unit in re.findall(r"(\d+)([smh])", text)))


def rules_file() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The alerting rules by name, and each recorded series' expression."""
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    alerting = {rule["alert"]: rule for rule in rules if "alert" in rule}
    recorded = {rule["record"]: rule["expr"] for rule in rules if "record" in rule}
    return alerting, recorded


def thresholds(expr: str, recorded: dict[str, str]) -> set[float]:
    """Every figure of the expression and of the recorded series it reads: thresholds, factors, bounds, minimum
    counts, the SLO's bucket."""
    found = {float(bound) for bound in BUCKET.findall(expr)}
    text = RANGE.sub(" ", expr)
    for pattern in NOT_FIGURES:
        text = pattern.sub(" ", text)
    found |= {round(float(a) * float(b), 9) for a, b in PRODUCT.findall(text)}
    found |= {float(n) for n in NUMBER.findall(PRODUCT.sub(" ", text))}
    for name in set(RECORDED.findall(expr)) & set(recorded):
        found |= thresholds(recorded[name], recorded)
    return found


def windows(expr: str, recorded: dict[str, str]) -> set[float]:
    found = {float(int(a or b) * SECONDS[u or v]) for a, u, b, v in RANGE.findall(expr)}
    for name in set(RECORDED.findall(expr)) & set(recorded):
        found |= windows(recorded[name], recorded)
    return found


def declared(rule: Rule) -> tuple[set[float], set[float], float]:
    # PeriodicPassSilent's thresholds are each pass's (tests/admin/test_pass_thresholds.py pairs them by pass).
    figures = SILENT_AFTER.values() if rule is PERIODIC_PASS_SILENT else rule.thresholds
    return {round(float(t), 9) for t in figures}, set(map(float, rule.all_windows)), rule.for_seconds


def test_each_alert_the_room_computes_has_the_rules_thresholds_windows_and_for() -> None:
    alerting, recorded = rules_file()
    for rule in COMPUTED:
        assert rule.name in alerting, f"{rule.name} is no alert of rules.yml"
        written = alerting[rule.name]
        expr = written["expr"]
        in_file = (thresholds(expr, recorded), windows(expr, recorded), duration(written.get("for")))
        assert declared(rule) == in_file, rule.name


def test_every_rule_is_computed_by_the_room_or_said_why_not() -> None:
    alerting, _ = rules_file()
    computed = {rule.name for rule in COMPUTED}
    assert computed.isdisjoint(NOT_COMPUTED)
    assert set(alerting) == computed | set(NOT_COMPUTED)
    assert set(alerting) <= set(MEANINGS), "an alert the page cannot put in words"


def test_the_comparison_reads_what_a_change_would_touch() -> None:
    """The patterns see a threshold, a window and a `for:` changed, so a change in one place only fails above."""
    assert thresholds('a:b:rate1m{x="y9"} / b > 0.10', {}) == {0.1}
    assert thresholds("a > 14.4 * 0.01 and b >= 20 and c == 1", {}) == {0.144, 20.0, 1.0}
    assert thresholds("r:s:ratio2m > clamp(2 * x, 0.5, 0.9) or 0 * r:s:ratio2m + 0.9",
                      {"r:s:ratio2m": 'x / (y >= 20)'}) == {2.0, 0.5, 0.9, 20.0}
    assert thresholds('1 - sum(rate(h_bucket{le="2.0"}[20s])) / 3', {}) == {2.0, 3.0}
    assert windows("increase(a[2m]) / b:c:rate1m", {"b:c:rate1m": "rate(d[1m]) + rate(e[20s] offset 1h)"}) == {
        120, 60, 20, 3600}
    assert duration("1m") == 60 and duration("30s") == 30 and duration(None) == 0
