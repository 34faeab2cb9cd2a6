"""The show's PostgreSQL cluster as its operators watch it, on real servers (bench/cluster: 1 etcd member, 3 nodes
under Patroni 4.1.5, PyPI's, pinned by make cluster; HAProxy on the service host; loopback addresses): Prometheus'
shipped `patroni` and `etcd` jobs read every node's /metrics and rules.yml finds each replica's lag and the
synchronous standby there, so
nothing pages on a healthy cluster; the control room, through the service's DATABASE_URL (the HAProxy), names the
primary and its standbys by Patroni's names; the primary's machine killed, PostgresFailover pages and the room names
the new primary. promtool's cases (deploy/prometheus/tests/cluster_test.yml) hold each rule's timing; this holds that
its figures are Patroni's.

Some 40-60 s: three initdb and base backups, a failover (Patroni's ttl: 20 s at the least)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from admin.control_database import DatabaseRoles, database_roles, roles_said
from bench.cluster.hosts import LoopbackHosts
from bench.cluster.postgres_cluster import Balancer, PostgresCluster, database_url, kill_node_host, psql, state
from tests.failover.patroni_cluster import scratch_cluster
from tests.test_cluster_alerts import Servers, query, start_prometheus, wait_for
from tests.waiting import HANG_SECONDS

CLUSTER_ALERTS = 'ALERTS{alertname=~"PostgresNoSyncStandby|PostgresReplicationLagHigh|PostgresFailover|EtcdNoQuorum"}'


@pytest.fixture
def cluster() -> Iterator[tuple[PostgresCluster, Balancer, LoopbackHosts]]:
    """tests/failover's cluster: a failover in some 20 s (Patroni's shortest ttl), not 40."""
    for started, balancer, hosts in scratch_cluster():
        leader = state(started).leader
        assert leader is not None
        # What docker-compose.yml's cluster-database grants: the standbys' state and lag are pg_monitor's.
        psql(started, started.node_named(leader.name), "GRANT pg_monitor TO gateway")
        yield started, balancer, hosts


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    started = Servers(tmp_path)
    try:
        yield started
    finally:
        started.stop()


async def room_line(url: str, showing: str = ".*") -> tuple[DatabaseRoles, str]:
    """The room's database line through the HAProxy, once it sends the service to a primary and the line reads as
    `showing` (a pattern): HAProxy 2.6 starts with every node up until its checks (1 s, fall 2) take the replicas out,
    cutting their sessions, a failover leaves no primary for some seconds, and a replica Patroni names a member
    streams from the primary a moment after (the line names only those the primary sees)."""
    deadline = time.monotonic() + HANG_SECONDS
    said = "no primary reached"
    while True:
        engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            async with AsyncSession(engine) as session:
                roles = await database_roles(session)
            if not roles.in_recovery:
                said = roles_said(lambda text: text, roles)
                if re.fullmatch(showing, said):
                    return roles, said
        except (DBAPIError, OSError):
            pass
        finally:
            await engine.dispose()
        assert time.monotonic() < deadline, f"the HAProxy's primary never said {showing!r}: {said}"
        await asyncio.sleep(0.2)


async def test_patronis_figures_page_nothing_when_healthy_and_a_failover_when_the_primary_dies(
        cluster: tuple[PostgresCluster, Balancer, LoopbackHosts], servers: Servers) -> None:
    postgres, balancer, hosts = cluster
    now = state(postgres)
    assert now.leader is not None and now.sync_standby is not None
    primary = postgres.node_named(now.leader.name)
    replica = next(m.name for m in now.members if m.name not in (now.leader.name, now.sync_standby.name))
    url = database_url(postgres, balancer)
    await room_line(url, rf"Primary {re.escape(primary.address)} · sync standby {now.sync_standby.name} lag \d+\.\d s"
                         rf" · replica {replica} lag \d+\.\d s")

    prometheus = start_prometheus(servers, {
        "patroni": [f"{node.address}:{node.rest_port}" for node in postgres.nodes],
        "etcd": [member.client_address for member in postgres.etcd]})
    lags = 'patroni:replication_lag:bytes{scope="ballot"}'
    etcd_leader = 'etcd_server_has_leader{job="etcd"}'
    # Each job is scraped at an offset of its own: Patroni's figures may come in before etcd's first scrape.
    wait_for(lambda: len(query(prometheus, lags)) == 2 and query(prometheus, etcd_leader) != [],
             "both replicas' lag, from Patroni's figures, and etcd's")
    replicas = {r["metric"]["instance"] for r in query(prometheus, lags)}
    assert replicas == {f"{n.address}:{n.rest_port}" for n in postgres.nodes if n.name != now.leader.name}
    assert all(float(r["value"][1]) < 16 * 1024 * 1024 for r in query(prometheus, lags))
    assert [r["value"][1] for r in query(prometheus, 'sum by (scope) (patroni_sync_standby)')] == ["1"]
    assert [r["value"][1] for r in query(prometheus, "patroni:timeline:max")] == ["1"]
    assert [r["value"][1] for r in query(prometheus, etcd_leader)] == ["1"]
    assert query(prometheus, CLUSTER_ALERTS) == []

    kill_node_host(postgres, primary)
    firing = 'ALERTS{alertname="PostgresFailover",alertstate="firing"}'
    wait_for(lambda: [r["metric"]["scope"] for r in query(prometheus, firing)] == ["ballot"], "PostgresFailover")
    promoted = state(postgres).leader
    assert promoted is not None and promoted.name != primary.name
    address = re.escape(postgres.node_named(promoted.name).address)
    standing = rf"Primary {address} · sync standby pg\d lag \d+\.\d s"  # the last replica, now its sync standby
    waiting = rf"Primary {address} · no standby streaming: every commit waits for one"  # until it follows
    deadline = time.monotonic() + HANG_SECONDS
    while not re.fullmatch(standing, line := (await room_line(url))[1]):
        assert re.fullmatch(waiting, line) and time.monotonic() < deadline, line
        await asyncio.sleep(0.2)
