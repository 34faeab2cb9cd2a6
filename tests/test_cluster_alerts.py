"""The cluster's scrape jobs of deploy/prometheus/prometheus.yml, as shipped, against the real servers: Debian's
Prometheus scrapes a Redis Sentinel (with its password) through Debian's prometheus-redis-exporter's /scrape and an
etcd member, from file_sd targets; the sentinel's redis_up arrives renamed (RedisDown stays Redis's own), and a real
failover (SENTINEL FAILOVER) fires RedisSentinelFailover from rules.yml. promtool's cases (tests/cluster_test.yml)
hold each rule's timing; this holds the names and labels the servers really serve."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.kit.outbound_tls import verified_tls
from tests.servers import free_port
from tests.waiting import HANG_SECONDS, wait_for

PROMETHEUS = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
PASSWORD, SENTINEL_PASSWORD = "group-secret-1", "sentinel-secret-2"


def cli(port: int, password: str, *command: str) -> str:
    done = subprocess.run(["redis-cli", "-p", str(port), "-a", password, "--no-auth-warning", *command],
                          capture_output=True, text=True, timeout=30)
    return done.stdout.strip()


class Servers:
    """The processes a test starts, stopped at its end, newest first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, command: list[str]) -> None:
        with (self.folder / f"{name}.log").open("ab") as log:  # the process keeps its own descriptor
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=log, cwd=self.folder))

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            process.wait(timeout=HANG_SECONDS)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    started = Servers(tmp_path)
    try:
        yield started
    finally:
        started.stop()


def redis_group(servers: Servers, ports: dict[str, int]) -> None:
    """A master, its replica (both with a password) and one sentinel watching them as `ballot`, quorum 1, on the
    `ports` of each ("master", "replica", "sentinel")."""
    # Redis 7 holds a full sync back 5 s for more replicas to join it (repl-diskless-sync-delay): none will.
    common = ["--save", "", "--appendonly", "no", "--requirepass", PASSWORD, "--masterauth", PASSWORD,
              "--repl-diskless-sync-delay", "0"]
    servers.start("master", ["redis-server", "--port", str(ports["master"]), *common])
    wait_for(lambda: cli(ports["master"], PASSWORD, "PING") == "PONG", "the master")
    servers.start("replica", ["redis-server", "--port", str(ports["replica"]), *common,
                              "--replicaof", "127.0.0.1", str(ports["master"])])
    wait_for(lambda: "master_link_status:up" in cli(ports["replica"], PASSWORD, "INFO", "replication"), "replica")
    conf = servers.folder / "sentinel.conf"
    conf.write_text(f"port {ports['sentinel']}\nrequirepass {SENTINEL_PASSWORD}\n"
                    f"sentinel monitor ballot 127.0.0.1 {ports['master']} 1\n"
                    f"sentinel auth-pass ballot {PASSWORD}\n")
    servers.start("sentinel", ["redis-sentinel", str(conf)])
    wait_for(lambda: cli(ports["sentinel"], SENTINEL_PASSWORD, "SENTINEL", "ckquorum", "ballot").startswith("OK"),
             "the sentinel")


def etcd_member(servers: Servers) -> int:
    client, peer = free_port(), free_port()
    servers.start("etcd", ["etcd", "--name", "etcd1", "--data-dir", str(servers.folder / "etcd"),
                           "--listen-client-urls", f"http://127.0.0.1:{client}",
                           "--advertise-client-urls", f"http://127.0.0.1:{client}",
                           "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                           "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                           "--initial-cluster", f"etcd1=http://127.0.0.1:{peer}"])
    return client


def shipped_jobs(names: set[str], exporter: int) -> list[dict[str, Any]]:
    """prometheus.yml's jobs of these names as shipped, the Redis exporter's address the one started here (as ops.sh
    puts its own ports in)."""
    jobs = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["scrape_configs"]
    chosen = [job for job in jobs if job["job_name"] in names]
    text = json.dumps(chosen).replace("127.0.0.1:9121", f"127.0.0.1:{exporter}")
    return list(json.loads(text))


def start_prometheus(servers: Servers, targets: dict[str, list[str]], exporter: int = 0) -> str:
    """Debian's Prometheus with rules.yml and the shipped jobs of `targets`, each its targets in its file_sd file."""
    folder = servers.folder
    (folder / "cluster").mkdir()
    for job, addresses in targets.items():
        (folder / "cluster" / f"{job}.yml").write_text(yaml.safe_dump([{"targets": addresses}]))
    # Every second, not 15 s (nor the 5 s some jobs ask for): the same rules, sooner.
    jobs = [{**job, "scrape_interval": "1s"} for job in shipped_jobs(set(targets), exporter)]
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(PROMETHEUS / "rules.yml")], "scrape_configs": jobs}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{free_port()}"
    servers.start("prometheus", ["prometheus", f"--config.file={folder / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={folder / 'tsdb'}", "--log.level=warn",
                                 f"--web.listen-address={url.removeprefix('http://')}"])
    return url


def query(url: str, promql: str) -> list[dict[str, Any]]:
    try:
        answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5,
                           verify=verified_tls()).json()
    except (httpx.HTTPError, ValueError):
        return []
    return list(answer.get("data", {}).get("result", []))


def sentinel_exporter(servers: Servers, sentinel: str) -> int:
    """prometheus-redis-exporter reading the sentinel's password from its password file (as prometheus.yml's
    sentinel job says to run it); its port."""
    exporter = free_port()
    (servers.folder / "passwords.json").write_text(json.dumps({f"redis://{sentinel}": SENTINEL_PASSWORD}))
    servers.start("exporter", ["prometheus-redis-exporter", f"-web.listen-address=127.0.0.1:{exporter}",
                               "-redis.addr=", f"-redis.password-file={servers.folder / 'passwords.json'}"])
    return exporter


def test_the_sentinel_and_etcd_jobs_read_the_real_servers_and_a_failover_pages(servers: Servers) -> None:
    group = {name: free_port() for name in ("master", "replica", "sentinel")}
    sentinel, etcd = f"127.0.0.1:{group['sentinel']}", etcd_member(servers)
    exporter = sentinel_exporter(servers, sentinel)
    # Prometheus before the Redis group: it scrapes nothing until its discovery's first pass, 5 s after it starts,
    # time the group starts in. What the checks below read is scraped once the group is up.
    url = start_prometheus(servers, {"sentinel": [sentinel], "etcd": [f"127.0.0.1:{etcd}"]}, exporter)
    redis_group(servers, group)

    master = f'redis_sentinel_master_status{{job="sentinel",instance="{sentinel}",master_name="ballot"}}'
    wait_for(lambda: [r["metric"]["master_address"] for r in query(url, master)] == [
        f"127.0.0.1:{group['master']}"], "the sentinel's word on the master, scraped")
    assert [r["value"][1] for r in query(url, f'redis_sentinel_up{{instance="{sentinel}"}}')] == ["1"]
    assert query(url, 'redis_up{job="sentinel"}') == []  # renamed: no RedisDown from a sentinel
    wait_for(lambda: [r["value"][1] for r in query(url, 'etcd_server_has_leader{job="etcd"}')] == ["1"], "etcd")
    assert query(url, 'ALERTS{alertname=~"RedisSentinelFailover|EtcdNoQuorum"}') == []

    wait_for(lambda: cli(group["sentinel"], SENTINEL_PASSWORD, "SENTINEL", "failover", "ballot") == "OK",
             "the sentinel taking the failover")
    wait_for(lambda: cli(group["sentinel"], SENTINEL_PASSWORD, "SENTINEL", "get-master-addr-by-name",
                         "ballot").split() == ["127.0.0.1", str(group["replica"])], "the replica promoted")
    firing = 'ALERTS{alertname="RedisSentinelFailover",alertstate="firing"}'
    wait_for(lambda: [r["metric"]["master_name"] for r in query(url, firing)] == ["ballot"], "the page")
    assert query(url, 'ALERTS{alertname="EtcdNoQuorum"}') == []
