"""The production alert rules watching the run: Debian's Prometheus on the clients' host with deploy/prometheus's
rules.yml and a configuration derived from its prometheus.yml (bench/faults/watching.py: its intervals and rules),
scraping both web hosts' /metrics; no exporters (PostgreSQL's and Redis' would each have to follow a failover:
their rules are not evaluated here, and the table says so) and no Alertmanager (what fires is read from
Prometheus' own /api/v1/alerts every 2 s)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.faults.cluster.layout import WEB_HOSTS
from bench.faults.network.services import WEB_PORT
from bench.faults.network.topology import Network
from bench.faults.watching import DEPLOYED, derived_config

PROMETHEUS_PORT = 19090
# Without the PostgreSQL and Redis exporters these fire all along (they page on a watcher missing too): not shown.
BLIND = ("PostgresDown", "RedisDown{cause=unwatched}")
LEFT_OUT = ("Prometheus with deploy/prometheus/rules.yml scraping both web hosts, Patroni's and etcd's /metrics "
            "(the cluster jobs of prometheus.yml); not run: the PostgreSQL, Redis, node and sentinels' exporters "
            f"(so {', '.join(BLIND)} fire all along, for want of their exporter, and are not shown; "
            "RedisSentinelFailover and the exporters' rules are not evaluated)")


@dataclass
class AlertLog:
    url: str
    seen: dict[str, list[float]] = field(default_factory=dict)  # "Name{labels}" -> [first, last] firing
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    errors: int = 0

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while not self.stop.is_set():
                try:
                    alerts = (await client.get(f"{self.url}/api/v1/alerts")).json()["data"]["alerts"]
                except (httpx.HTTPError, ValueError, KeyError):
                    self.errors += 1
                    alerts = []
                now = time.time()
                for alert in alerts:
                    if alert.get("state") == "firing":
                        self.seen.setdefault(named(alert["labels"]), [now, now])[1] = now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), 2)

    def fired_between(self, since: float, until: float) -> list[str]:
        """Alerts firing at some time in [since, until], with when they began and ended relative to `since`."""
        return [(f"{name} +{first - since:.0f}..{last - since:.0f} s" if first >= since else
                 f"{name} (firing since {since - first:.0f} s before, until +{last - since:.0f} s)")
                for name, (first, last) in sorted(self.seen.items())
                if first <= until and last >= since and name not in BLIND]


def named(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("alertname", "severity", "stack", "job")}
    return labels["alertname"] + (("{" + ",".join(f"{k}={v}" for k, v in sorted(shown.items())) + "}")
                                  if shown else "")


def cluster_jobs(folder: Path, patroni: list[str], etcd: list[str]) -> list[dict[str, Any]]:
    """prometheus.yml's patroni and etcd jobs as deployed, their file_sd targets written here."""
    deployed = yaml.safe_load((DEPLOYED / "prometheus.yml").read_text())["scrape_configs"]
    jobs = []
    for job in deployed:
        targets = {"patroni": patroni, "etcd": etcd}.get(job["job_name"])
        if targets is not None:
            listed = folder / f"{job['job_name']}-targets.yml"
            listed.write_text(yaml.safe_dump([{"targets": targets}]))
            jobs.append({**job, "file_sd_configs": [{"files": [str(listed)]}]})
    return jobs


def start_prometheus(network: Network, patroni: list[str], etcd: list[str]) -> AlertLog | None:
    """Prometheus on the clients' host; None when it is not installed (`make ops`)."""
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    folder = network.folder / "prometheus"
    folder.mkdir()
    targets = [f"{network.address(host)}:{WEB_PORT}" for host in WEB_HOSTS]
    config = derived_config({}, targets[0], 0)
    config.pop("alerting", None)
    for job in config["scrape_configs"]:
        if job["job_name"] == "gateway":
            job["static_configs"] = [{"targets": targets}]
    config["scrape_configs"] += cluster_jobs(folder, patroni, etcd)
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"{network.address('clients')}:{PROMETHEUS_PORT}"
    network.start("clients", [binary, f"--config.file={folder}/prometheus.yml", f"--storage.tsdb.path={folder}/data",
                              "--log.level=warn", f"--web.listen-address={address}"], folder / "prometheus.log")
    return AlertLog(f"http://{address}")
