"""The production alerting (deploy/prometheus) pointed at a stack of the benches: Debian's Prometheus with the real
rules.yml, and a configuration derived from deploy/prometheus/prometheus.yml (the same scrape and evaluation
intervals; only the addresses change), its Alertmanager with alertmanager.yml's routes and inhibitions (the on-call
receiver posting here, to a listener of the bench), and the exporters prometheus.yml scrapes, each on a free
loopback port. And what a rule promises: the time from a fault to its alert firing, read from the rule itself."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiohttp import web

from bench.harness import ROOT, Stack, free_port

DEPLOYED = ROOT / "deploy" / "prometheus"
# What each scrape job of prometheus.yml is, started here with its own port (None: the gateway, the stack's own).
EXPORTERS = {"redis": "prometheus-redis-exporter", "postgres": "prometheus-postgres-exporter",
             "node": "prometheus-node-exporter"}


@dataclass
class Watch:
    prometheus: str  # base URLs
    alertmanager: str
    config: dict[str, Any]  # the Prometheus configuration in force
    rules: list[dict[str, Any]]  # rules.yml's groups
    left_out: list[str] = field(default_factory=list)  # scrape jobs of prometheus.yml not run here, and why


def derived_config(ports: dict[str, int], gateway: str, alertmanager: int) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with each job's target replaced by the process started for it here (jobs
    without one are left out); intervals, rules and everything else as deployed."""
    config = yaml.safe_load((DEPLOYED / "prometheus.yml").read_text())
    config["rule_files"] = [str(DEPLOYED / name) for name in config["rule_files"]]
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager}"]}]}]
    kept = []
    for job in config["scrape_configs"]:
        name = job["job_name"]
        target = gateway if name == "gateway" else f"127.0.0.1:{ports[name]}" if name in ports else None
        if target is not None:
            kept.append({**job, "static_configs": [{"targets": [target]}]})
    config["scrape_configs"] = kept
    return config


def derived_alertmanager(pages_url: str) -> dict[str, Any]:
    """deploy/prometheus/alertmanager.yml with every receiver posting to the bench's listener (`/page`, `/ticket`)."""
    config = yaml.safe_load((DEPLOYED / "alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = pages_url + "/" + hook["url"].rsplit("/", 1)[1]
    return config


@contextlib.contextmanager
def watched(stack: Stack, pages_port: int) -> Iterator[Watch]:
    """Prometheus, Alertmanager and the exporters against `stack`, until the block ends."""
    folder = stack.data_dir / "watch"
    folder.mkdir()
    prometheus_port, alertmanager_port = free_port(), free_port()
    ports = {"prometheus": prometheus_port, "alertmanager": alertmanager_port}
    left_out = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for job, binary in EXPORTERS.items():
            if shutil.which(binary) is None:
                left_out.append(f"{job} ({binary} is not installed: `make ops` installs it)")
                continue
            ports[job] = free_port()
            processes.append(start(folder, binary, *exporter_args(job, stack, ports[job]),
                                   env=exporter_env(job, stack)))
        config = derived_config(ports, stack.base_url.removeprefix("http://"), alertmanager_port)
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        (folder / "alertmanager.yml").write_text(yaml.safe_dump(derived_alertmanager(
            f"http://127.0.0.1:{pages_port}")))
        processes.append(start(folder, "prometheus-alertmanager", f"--config.file={folder}/alertmanager.yml",
                               f"--storage.path={folder}/alertmanager", "--cluster.listen-address=",
                               f"--web.listen-address=127.0.0.1:{alertmanager_port}"))
        processes.append(start(folder, "prometheus", f"--config.file={folder}/prometheus.yml",
                               f"--storage.tsdb.path={folder}/prometheus", "--log.level=warn",
                               f"--web.listen-address=127.0.0.1:{prometheus_port}"))
        watch = Watch(f"http://127.0.0.1:{prometheus_port}", f"http://127.0.0.1:{alertmanager_port}", config,
                      yaml.safe_load((DEPLOYED / "rules.yml").read_text())["groups"], left_out)
        wait_ready(watch, processes, folder)
        yield watch
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def exporter_args(job: str, stack: Stack, port: int) -> list[str]:
    if job == "redis":  # Go's flag package: one dash
        return [f"-redis.addr={stack.redis_url}", f"-web.listen-address=127.0.0.1:{port}"]
    if job == "postgres":  # its own queries beside the built-in collectors, as ops.sh runs it
        return [f"--web.listen-address=127.0.0.1:{port}", f"--extend.query-path={DEPLOYED / 'queries.yaml'}"]
    return [f"--web.listen-address=127.0.0.1:{port}"]


def exporter_env(job: str, stack: Stack) -> dict[str, str] | None:
    if job != "postgres":
        return None
    return {"DATA_SOURCE_NAME": f"postgresql://postgres@:5432/gateway?host={stack.data_dir}/postgres&sslmode=disable"}


def start(folder: Path, binary: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = (folder / f"{binary}.log").open("wb")
    return subprocess.Popen([binary, *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def wait_ready(watch: Watch, processes: list[subprocess.Popen[bytes]], folder: Path, timeout: float = 60) -> None:
    """Until Prometheus and Alertmanager answer and every target has been scraped once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError(f"a watcher exited: see {folder}/*.log")
        with contextlib.suppress(httpx.HTTPError, ValueError):  # not ready: not JSON yet
            targets = httpx.get(f"{watch.prometheus}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
            ready = httpx.get(f"{watch.alertmanager}/-/ready", timeout=2).status_code == 200
            if ready and targets and all(target["health"] == "up" for target in targets):
                return
        time.sleep(0.5)
    raise RuntimeError("Prometheus did not scrape every target in time")


async def firing(client: httpx.AsyncClient, watch: Watch) -> list[dict[str, Any]]:
    """The alerts Prometheus has firing now (pending ones left out)."""
    alerts = (await client.get(f"{watch.prometheus}/api/v1/alerts")).json()["data"]["alerts"]
    return [alert for alert in alerts if alert["state"] == "firing"]


@dataclass
class Pages:
    """What Alertmanager sent to the on-call receiver (routes and inhibitions applied): (when, alert name, labels)."""

    received: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)

    def since(self, moment: float) -> list[tuple[float, str, dict[str, str]]]:
        return [page for page in self.received if page[0] >= moment]


@contextlib.asynccontextmanager
async def pages_listener(port: int) -> AsyncIterator[Pages]:
    """The on-call receiver: keeps each firing alert of every notification, as a pager would ring."""
    pages = Pages()

    async def page(request: web.Request) -> web.Response:
        for alert in (await request.json())["alerts"]:
            if alert["status"] == "firing":
                pages.received.append((time.time(), alert["labels"]["alertname"], alert["labels"]))
        return web.Response()

    async def ticket(request: web.Request) -> web.Response:  # to the desk, not to the one on call
        return web.Response()

    app = web.Application()
    app.router.add_post("/page", page)
    app.router.add_post("/ticket", ticket)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield pages
    finally:
        await runner.cleanup()


# --- what a rule promises ------------------------------------------------------------------------------------


DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
RANGE = re.compile(r"\[(\d+(?:ms|s|m|h|d))(?::\d+\w*)?\]")
# A threshold on an age ("…_age_seconds … > 45"): the figure needs that long past the fault to cross it.
AGE_THRESHOLD = re.compile(r"_age(?:_seconds)?\b[^><]*?\)?\s*>\s*(\d+(?:\.\d+)?)")


def seconds(duration: str) -> float:
    return sum(int(n) * SECONDS[unit] for n, unit in DURATION.findall(duration))


@dataclass(frozen=True)
class Promise:
    seconds: float
    parts: str  # how it adds up


PROMISED = re.compile(r"Promised: within (\d+) s")


def promised_in_comment(alertname: str) -> float | None:
    """The time a rule's own comment promises ("Promised: within N s"), where the expression alone cannot say: a
    baseline read over an hour (a provider's normal share of declines) is no hour's wait for the alert, and a
    silence measured in seconds by the gateway is no window of the rule's."""
    comment: list[str] = []
    for line in (DEPLOYED / "rules.yml").read_text().splitlines():
        text = line.strip()
        if text.startswith("#"):
            comment.append(text.lstrip("# "))
        elif text == f"- alert: {alertname}":
            found = PROMISED.search(" ".join(comment))
            return float(found.group(1)) if found else None
        else:
            comment = []
    return None


def promise(watch: Watch, alertname: str, jobs_read: set[str]) -> Promise:
    """The longest a fault may take to fire `alertname`: what the rule's comment promises, where it says; else the
    longest window its expression reads (through the recording rules it uses, or the age it compares), its `for` (in
    whole evaluations), one scrape of the slowest job it reads (`jobs_read`), one evaluation of each recording group it
    goes through, and one of its own."""
    if (promised := promised_in_comment(alertname)) is not None:
        return Promise(promised, "the rule's own comment")
    evaluation = seconds(watch.config["global"].get("evaluation_interval", "1m"))
    group, rule = alert_rule(watch, alertname)
    own = seconds(group.get("interval", "")) or evaluation
    used = recordings_used(watch, rule["expr"])
    exprs = [rule["expr"], *(expr for expr, _ in used)]
    window = max([0.0, *(seconds(found) for expr in exprs for found in RANGE.findall(expr)),
                  *(float(found) for expr in exprs for found in AGE_THRESHOLD.findall(expr))])
    recorded = max([0.0, *((interval or evaluation) for _, interval in used)])
    hold = -(-seconds(rule.get("for", "0s")) // own) * own
    scrape_default = seconds(watch.config["global"].get("scrape_interval", "1m"))
    scrape = max((seconds(job.get("scrape_interval", "")) or scrape_default for job in watch.config["scrape_configs"]
                  if job["job_name"] in jobs_read), default=scrape_default)
    total = window + hold + scrape + recorded + own
    parts = (f"window {window:.0f} s + for {hold:.0f} s + scrape {scrape:.0f} s"
             + (f" + recording {recorded:.0f} s" if recorded else "") + f" + evaluation {own:.0f} s")
    return Promise(total, parts)


def alert_rule(watch: Watch, alertname: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return next((group, rule) for group in watch.rules for rule in group["rules"] if rule.get("alert") == alertname)


def mentions(expr: str, name: str) -> bool:
    return re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr) is not None


def recordings_used(watch: Watch, expr: str) -> list[tuple[str, float]]:
    """The expressions of the recording rules `expr` reads, and of those they read, with their group's interval
    (0: the global one)."""
    records = {rule["record"]: (rule["expr"], seconds(group.get("interval", "")))
               for group in watch.rules for rule in group["rules"] if "record" in rule}
    used: dict[str, tuple[str, float]] = {}
    pending = [expr]
    while pending:
        text = pending.pop()
        for name, (inner, interval) in records.items():
            if name not in used and mentions(text, name):
                used[name] = (inner, interval)
                pending.append(inner)
    return list(used.values())


async def jobs_reading(client: httpx.AsyncClient, watch: Watch, alertname: str) -> set[str]:
    """The scrape jobs whose series the alert's expression (and the recording rules it uses) reads, as Prometheus
    has them now."""
    _, rule = alert_rule(watch, alertname)
    text = " ".join([rule["expr"], *(expr for expr, _ in recordings_used(watch, rule["expr"]))])
    names = (await client.get(f"{watch.prometheus}/api/v1/label/__name__/values")).json()["data"]
    jobs: set[str] = set()
    for name in names:
        if ":" not in name and mentions(text, name):
            found = (await client.get(f"{watch.prometheus}/api/v1/query",
                                      params={"query": f"group by (job) ({name})"})).json()["data"]["result"]
            jobs |= {series["metric"].get("job", "") for series in found}
    return jobs
