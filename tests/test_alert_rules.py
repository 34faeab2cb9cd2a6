"""The alert rules in deploy/prometheus: valid for Prometheus, each one with its `promtool test rules` cases, and
every figure of ours they read really on `/metrics`. promtool and amtool are Debian's (`make test` installs them)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import METRICS
from tests.servers import CLOSED, free_port
from tests.waiting import HANG_SECONDS

PROMETHEUS = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
CASES = sorted((PROMETHEUS / "tests").glob("*_test.yml"))
# Go's collector at four times its default heap growth for the rules' tests: promtool evaluates every rule at each of
# some 4,200 simulated instants, allocating briskly, and its collections were 10-15% of that CPU (30 s against 33-36 s
# on this 2-core machine); its heap stays near 150 MB.
FEWER_COLLECTIONS = {"GOGC": "400"}


def run(*command: str, env: dict[str, str] | None = None) -> str:
    """`env`: set for the command, over this process's environment."""
    done = subprocess.run(command, cwd=PROMETHEUS, capture_output=True, text=True, timeout=HANG_SECONDS,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_rules_and_configs_are_valid() -> None:
    assert "SUCCESS" in run("promtool", "check", "rules", str(RULES))
    assert "SUCCESS" in run("promtool", "check", "config", "prometheus.yml")
    assert "SUCCESS" in run("amtool", "check-config", "alertmanager.yml")


def test_every_rule_test_passes() -> None:
    assert CASES
    out = run("promtool", "test", "rules", *(str(case) for case in CASES), env=FEWER_COLLECTIONS)
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


@contextmanager
def alertmanager(tmp_path: Path, config: Path | None = None) -> Iterator[str]:
    """Debian's Alertmanager with alertmanager.yml as it is, but its receivers at the suite's closed port (or with
    `config`)."""
    if config is None:
        config = tmp_path / "alertmanager.yml"
        config.write_text(re.sub(r"http://127\.0\.0\.1:9099", CLOSED.url("http://127.0.0.1:9099"),
                                 (PROMETHEUS / "alertmanager.yml").read_text()))
    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        ["prometheus-alertmanager", f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address={url.removeprefix('http://')}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=2) as client:  # one: each client builds a TLS context, 37 ms of CPU here
            while not ready(client, f"{url}/-/ready"):
                assert process.poll() is None and time.monotonic() < deadline, "Alertmanager did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def ready(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def alert(name: str, **labels: str) -> dict[str, object]:
    return {"labels": {"alertname": name, "severity": "page", **labels}, "annotations": {"summary": name}}


def states_once_settled(url: str, sent: list[dict[str, object]]) -> dict[tuple[str, str], str]:
    """Each alert's state (active, or suppressed by an inhibition) by (alertname, job), once Alertmanager has
    taken in the sources it inhibits by (it does so a moment after they arrive)."""
    assert httpx.post(f"{url}/api/v2/alerts", json=sent, timeout=5).status_code == 200
    seen: dict[tuple[str, str], str] = {}
    with httpx.Client(timeout=5) as client:  # one: each client builds a TLS context, 37 ms of CPU here
        for _ in range(50):
            alerts = client.get(f"{url}/api/v2/alerts").json()
            now = {(a["labels"]["alertname"], a["labels"].get("job", "")): a["status"]["state"] for a in alerts}
            if len(now) == len(sent) and now == seen:
                return now
            seen = now
            time.sleep(0.1)
        return seen


def test_postgres_down_holds_back_the_web_processes_it_takes_down(tmp_path: Path) -> None:
    """PostgreSQL down: the web processes' scrapes fail with it (their /metrics reads it), so their TargetDown is
    the same fault and waits behind PostgresDown; another target's is its own and still pages."""
    with alertmanager(tmp_path) as url:
        states = states_once_settled(url, [
            alert("PostgresDown", job="postgres", instance="db1"), alert("TargetDown", job="gateway", instance="web1"),
            alert("TargetDown", job="redis", instance="cache1")])
    assert states == {("PostgresDown", "postgres"): "active", ("TargetDown", "gateway"): "suppressed",
                      ("TargetDown", "redis"): "active"}


def test_an_exporter_gone_pages_once_and_hides_no_web_process(tmp_path: Path) -> None:
    """The exporter gone (no pg_up: PostgresDown without a job), PostgreSQL may be fine: the exporter's own
    TargetDown is that same page, but a web process down is news of its own."""
    with alertmanager(tmp_path) as url:
        states = states_once_settled(url, [
            alert("PostgresDown"), alert("TargetDown", job="postgres", instance="db1"),
            alert("TargetDown", job="gateway", instance="web1")])
    assert states == {("PostgresDown", ""): "active", ("TargetDown", "postgres"): "suppressed",
                      ("TargetDown", "gateway"): "active"}


REDIS_CONSEQUENCES = ("PeriodicPassSilent", "ReconcilerOrRelayUnknown", "OutboxNotRelayed",
                      "BoardFramesLateFastBurn", "BoardFramesLateSlowBurn")


def test_redis_not_answering_pages_once_for_what_it_stops(tmp_path: Path) -> None:
    """Redis frozen or gone: the passes, the relay and the board's frames stop with it, and its exporter's scrape
    times out. One page, Redis's; a fault of another kind meanwhile still pages."""
    with alertmanager(tmp_path) as url:
        states = states_once_settled(url, [
            alert("RedisDown", cause="unanswered"), alert("TargetDown", job="redis", instance="cache1"),
            *(alert(name) for name in REDIS_CONSEQUENCES), alert("ProviderDeclining", provider="mtn")])
    assert states == {("RedisDown", ""): "active", ("TargetDown", "redis"): "suppressed",
                      **{(name, ""): "suppressed" for name in REDIS_CONSEQUENCES}, ("ProviderDeclining", ""): "active"}


def test_a_redis_exporter_gone_hides_only_its_own_target(tmp_path: Path) -> None:
    """No exporter reporting on Redis says nothing about the worker or the board: their pages go through."""
    with alertmanager(tmp_path) as url:
        states = states_once_settled(url, [
            alert("RedisDown", cause="unwatched"), alert("TargetDown", job="redis", instance="cache1"),
            *(alert(name) for name in REDIS_CONSEQUENCES)])
    assert states == {("RedisDown", ""): "active", ("TargetDown", "redis"): "suppressed",
                      **{(name, ""): "active" for name in REDIS_CONSEQUENCES}}
