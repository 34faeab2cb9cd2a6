"""Every periodic pass is watched: PeriodicPassSilent (deploy/prometheus/rules.yml) has one line per pass the worker
runs by itself, each with the pass's own threshold, and the control room judges each pass by the same thresholds
(read from the rules file here, not from the code that wrote them)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from admin.control_conditions import passes
from admin.keys import WATCHED_PASSES
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.worker.passes import PASSES, SILENT_AFTER
from gateway.core.worker_passes import SILENT_AFTER_AT_LEAST

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
LINE = re.compile(r'gateway_periodic_last_pass_age_seconds\{pass="([^"]+)"\}\)\s*>\s*(\d+)')


def rule_thresholds() -> dict[str, int]:
    """PeriodicPassSilent's threshold of each pass, as the rules file says."""
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    (silent,) = [rule for rule in rules if rule.get("alert") == "PeriodicPassSilent"]
    found = LINE.findall(silent["expr"])
    assert len(found) == len({name for name, _ in found}), "a pass named twice in the rule"
    return {name: int(seconds) for name, seconds in found}


def test_the_rule_watches_every_periodic_pass_at_three_of_its_intervals_at_least() -> None:
    periodic = {each.name: each.every for each in PASSES if each.every is not None}
    in_rule = rule_thresholds()
    assert set(in_rule) == set(periodic), "a periodic pass without its line in PeriodicPassSilent, or one gone"
    for name, every in periodic.items():
        assert in_rule[name] >= max(3 * every, SILENT_AFTER_AT_LEAST), name
    assert in_rule["reconcile"] == in_rule["relay-outbox"] == 45  # the ones /readyz and the runbook name


def test_the_control_room_judges_each_pass_by_the_rules_threshold(settings: Settings) -> None:
    in_rule = rule_thresholds()
    watched = create_app(settings)[WATCHED_PASSES]  # what the control room and /metrics read
    assert dict(watched) == in_rule == dict(SILENT_AFTER)
    at_limit = {c.labels[0][1]: c.holds for c in passes({name: float(seconds) for name, seconds in in_rule.items()},
                                                        watched) if c.labels}
    beyond = {c.labels[0][1]: c.holds for c in passes({name: seconds + 1.0 for name, seconds in in_rule.items()},
                                                      watched) if c.labels}
    assert at_limit == dict.fromkeys(in_rule, False) and beyond == dict.fromkeys(in_rule, True)
