"""The alert rules in deploy/prometheus: valid for Prometheus, each one with its `promtool test rules` cases, and
every figure of ours they read really on `/metrics`. promtool and amtool are Debian's (`make test` installs them)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from assembly.app import create_app
from assembly.keys import METRICS
from assembly.settings import Settings

PROMETHEUS = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
CASES = sorted((PROMETHEUS / "tests").glob("*_test.yml"))


def run(*command: str) -> str:
    done = subprocess.run(command, cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_rules_and_configs_are_valid() -> None:
    assert "SUCCESS" in run("promtool", "check", "rules", str(RULES))
    assert "SUCCESS" in run("promtool", "check", "config", "prometheus.yml")
    assert "SUCCESS" in run("amtool", "check-config", "alertmanager.yml")


def test_every_rule_test_passes() -> None:
    assert CASES
    out = run("promtool", "test", "rules", *(str(case) for case in CASES))
    assert out.count("SUCCESS") == len(CASES)


def alert_names() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in CASES:
        for test in yaml.safe_load(case.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alert_names() - fires == set()
    assert alert_names() - quiet == set()


def test_every_gateway_figure_the_rules_read_is_served(settings: Settings) -> None:
    """A renamed metric would leave its alert silent forever: each `gateway_…` name read is in the registry."""
    exposed = create_app(settings)[METRICS].render().decode()
    read = set(re.findall(r"\b(gateway_[a-z_]+)", RULES.read_text()))
    assert read
    for name in read:
        family = re.sub(r"_(bucket|count|sum)$", "", name)  # a histogram's series; a counter's TYPE keeps _total
        assert f"# TYPE {family} " in exposed, name
