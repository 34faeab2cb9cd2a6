"""The show's deployment started on its hosts: etcd and PostgreSQL under Patroni (bench/cluster/postgres_cluster.py),
Redis with its sentinels (bench/cluster/redis_group.py), the providers' stand-ins, the two `gateway run` hosts each
reaching the primary through its own HAProxy and Redis through the sentinels, and the balancer in front of them
(bench/faults/network/services.py's configuration); and what the faults ask of it: who is the primary or the Redis
master, start a killed host's servers again, write on a node directly."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis

from bench.cluster import postgres_cluster as pg
from bench.cluster import redis_group
from bench.cluster.patroni_state import ClusterState, cluster_state
from bench.faults.cluster.layout import ETCD_HOSTS, POSTGRES_HOSTS, REDIS_HOSTS, SENTINEL_HOSTS, WEB_HOSTS
from bench.faults.hosts import wait_ready
from bench.faults.network.services import (
    BALANCER_PORT,
    HAPROXY,
    SANDBOX_PORT,
    WEB_PORT,
    balancer_config,
    base_environment,
    host_environment,
    wait_listening,
)
from bench.faults.network.topology import Network
from bench.harness import Stack

SCRATCH = "bench_scratch"  # a table of the service's database only (b) writes in, on the old primary directly
ANSWER_WITHIN = 15.0  # how long (b)'s write waits for an answer before giving up on it
REDIS_PORTS = redis_group.Ports(redis=16379, sentinel=16380)
# A master is down after 5 s without an answer (the group's notes: a fair production figure on a dedicated machine;
# Debian's 30 s would only lengthen each run), a failover given a minute.
REDIS_TIMINGS = redis_group.Timings(down_after_ms=5000, failover_timeout_ms=60000)


@dataclass
class ClusterSite:
    network: Network
    postgres: pg.PostgresCluster
    redis: redis_group.RedisGroup
    stack: Stack  # the balancer, the primary's address now (re-read: `primary_url`), the sentinels' REDIS_URL
    hosts: dict[str, subprocess.Popen[bytes]]  # `gateway run` of each web host
    balancer_stats: Path

    @property
    def leader_ttl(self) -> int:
        return self.postgres.timings.ttl

    def host_of_node(self, name: str) -> str:
        return self.postgres.node_named(name).host

    def node_on(self, host: str) -> pg.PostgresNode:
        return next(node for node in self.postgres.nodes if node.host == host)

    async def patroni(self, avoid: str | None = None) -> ClusterState:
        """Patroni's view, asked of the other nodes first (a frozen or cut node answers late or from its past)."""
        urls = sorted(self.postgres.rest_urls, key=lambda url: url == (self.node_on(avoid).rest_url if avoid else ""))
        return await asyncio.to_thread(cluster_state, urls)

    async def primary_host(self) -> str:
        leader = (await self.patroni()).leader
        if leader is None:
            raise RuntimeError("no PostgreSQL primary to fault")
        return self.host_of_node(leader.name)

    async def primary_url(self, user: str = pg.SERVICE_ROLE) -> str:
        node = self.node_on(await self.primary_host())
        return self.node_url(node, user)

    def node_url(self, node: pg.PostgresNode, user: str = pg.SERVICE_ROLE) -> str:
        password = self.postgres.service_password if user == pg.SERVICE_ROLE else self.postgres.passwords.superuser
        return f"postgresql://{user}:{password}@{node.address}:{node.port}/{pg.SERVICE_DATABASE}"

    def restart_postgres_host(self, host: str) -> None:
        pg.restart_node(self.postgres, self.node_on(host))

    async def scratch_insert(self, host: str, marker: str) -> str:
        """An INSERT on `host`'s PostgreSQL directly, from the clients' host: what it answered. It is not cancelled
        when it waits (a cancelled wait for the synchronous standby commits locally): the connection is dropped."""
        try:
            connection = await asyncpg.connect(self.node_url(self.node_on(host), "postgres"), timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            return f"no connection ({type(exc).__name__}: {exc})"
        writing = asyncio.create_task(connection.execute(f"INSERT INTO {SCRATCH} VALUES ($1)", marker))
        done, _ = await asyncio.wait({writing}, timeout=ANSWER_WITHIN)
        if not done:
            connection.terminate()
            writing.cancel()
            return f"no answer in {ANSWER_WITHIN:.0f} s (connection dropped, not cancelled)"
        await connection.close()
        try:
            return f"COMMITTED ({writing.result()})"
        except (asyncpg.PostgresError, OSError) as exc:
            return f"refused: {type(exc).__name__}: {exc}"

    async def scratch_row_on_primary(self, marker: str, wait: float) -> str:
        """Whether `marker`'s row is on the primary once every node runs again (a rewound old primary among them)."""
        deadline = asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < deadline:
            state = await self.patroni()
            if state.leader is not None and len(state.replicas) == len(self.postgres.nodes) - 1:
                break
            await asyncio.sleep(1)
        connection = await asyncpg.connect(await self.primary_url("postgres"), timeout=5)
        try:
            found = await connection.fetchval(f"SELECT count(*) FROM {SCRATCH} WHERE marker = $1", marker)
        finally:
            await connection.close()
        return "absent (as promised)" if found == 0 else "PRESENT: the old primary's write survived"

    def redis_master_host(self, avoid: str | None = None) -> str | None:
        """The master the sentinels name (asked of the sentinels not on `avoid` first)."""
        return self.redis.master_host()

    def restart_redis_host(self, host: str) -> None:
        """The killed host's Redis and sentinel started again on the files they left, as a machine that reboots: the
        server comes back as the master it was and the sentinels make it a replica of the new one; the sentinel keeps
        its identity and the configuration it rewrote."""
        group = self.redis
        server, sentinel = group.hosts.folder / f"{host}-redis", group.hosts.folder / f"{host}-sentinel"
        group.processes.pop(host, None)
        group._run(host, f"{host}-redis", [group.binaries.redis_server, str(server / "redis.conf")])
        if host in group.sentinels:
            group._run(host, f"{host}-sentinel", group.binaries.sentinel_command(sentinel / "sentinel.conf"))

    def redis_whole(self) -> bool:
        """A master the sentinels agree on, the other server its linked replica, every sentinel up and seeing it."""
        group = self.redis
        master = group.master_host()
        if master is None:
            return False
        replica = next(host for host in group.servers if host != master)
        try:
            with group._server(replica) as server:
                info = server.info("replication")
                if info.get("master_link_status") != "up" or info.get("master_host") != group.hosts.address(master):
                    return False
            for host in group.sentinels:
                with group._sentinel(host) as sentinel:
                    state = sentinel.sentinel_master(redis_group.MASTER_NAME)
                    if state["ip"] != group.hosts.address(master) or state["num-slaves"] < 1:
                        return False
        except redis.RedisError:
            return False
        return True


def wait_primary_through(url: str, timeout: float = 30) -> None:
    """Until a host's HAProxy sends to the primary only: it starts with every node in, until their checks fail
    (twice, a second apart), and a service migrating meanwhile could land on a replica."""
    deadline, in_a_row = time.monotonic() + timeout, 0
    while in_a_row < 3:
        answer = subprocess.run([str(pg.PG_BIN / "psql"), url, "-XAtc", "SELECT pg_is_in_recovery()"],
                                capture_output=True, text=True)
        in_a_row = in_a_row + 1 if answer.stdout.strip() == "f" else 0
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: not only the primary in {timeout:.0f} s ({answer.stderr.strip()})")
        time.sleep(0.5)


def start_postgres(network: Network) -> pg.PostgresCluster:
    cluster = pg.start_cluster(network, etcd_hosts=ETCD_HOSTS, node_hosts=POSTGRES_HOSTS, service_hosts=WEB_HOSTS)
    pg.wait_until_ready(cluster)
    pg.create_service_database(cluster)
    leader = cluster_state(cluster.rest_urls).leader
    assert leader is not None
    pg.psql(cluster, cluster.node_named(leader.name), f"CREATE TABLE {SCRATCH} (marker text PRIMARY KEY)",
            database=pg.SERVICE_DATABASE)
    return cluster


def start_site(network: Network) -> ClusterSite:
    """Every server on its host; the calling thread must be in the clients' host (it waits for them there)."""
    postgres = start_postgres(network)
    group = redis_group.RedisGroup(network, REDIS_PORTS, REDIS_HOSTS, SENTINEL_HOSTS, REDIS_TIMINGS,
                                   redis_group.Binaries("/usr/bin/redis-server", "/usr/bin/redis-sentinel"))
    group.start()
    redis_url = group.url()
    leader = cluster_state(postgres.rest_urls).leader
    assert leader is not None
    direct = f"postgresql://{pg.SERVICE_ROLE}:{postgres.service_password}@" \
             f"{postgres.node_named(leader.name).address}:{postgres.node_named(leader.name).port}/{pg.SERVICE_DATABASE}"

    def gateway(host: str, env: dict[str, str], *command: str) -> subprocess.Popen[bytes]:
        folder = network.folder / host
        folder.mkdir(exist_ok=True)
        return network.start(host, [sys.executable, "-m", "assembly.cli", *command], folder / "process.log",
                             env={**env, "GATEWAY_DATA_DIR": str(folder)})

    outside = gateway("providers", base_environment(network, direct, redis_url), "stand-ins")
    wait_listening(network.address("providers"), SANDBOX_PORT, "the sandbox", outside)
    stats = network.folder / "haproxy.sock"
    (network.folder / "haproxy.cfg").write_text(balancer_config(network, stats))
    network.start("balancer", [HAPROXY, "-f", str(network.folder / "haproxy.cfg"), "-db"],
                  network.folder / "haproxy.log")
    hosts = {}
    for host in WEB_HOSTS:  # one after the other: the first migrates and seeds the demo
        url = pg.database_url(postgres, pg.start_balancer(postgres, host))
        wait_primary_through(url)
        env = {**host_environment(network, url, redis_url), "GATEWAY_HOST": network.address(host),
               "GATEWAY_PORT": str(WEB_PORT), "METRICS_ALLOW": "10.77.0.0/16"}
        hosts[host] = gateway(host, env, "run")
        wait_ready(f"http://{network.address(host)}:{WEB_PORT}", hosts[host], timeout=240, answer_within=3)
    stack = Stack(f"http://{network.address('balancer')}:{BALANCER_PORT}",
                  f"http://{network.address('providers')}:{SANDBOX_PORT}", direct, redis_url, network.folder,
                  hosts[WEB_HOSTS[-1]])
    return ClusterSite(network, postgres, group, stack, hosts, stats)
