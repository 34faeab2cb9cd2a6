"""PostgreSQL under Patroni and etcd, reached through HAProxy, on the hosts of a `Hosts` (bench/cluster/hosts.py): the
show's database cluster (deploy/cluster/README.md) for the suite's failover test and the fault bench.

    cluster = start_cluster(hosts, etcd_hosts=["etcd1"], node_hosts=["pg1", "pg2", "pg3"], timings=Timings(8, 1, 3),
                            service_hosts=["app1"])  # the Hosts' names; pg_hba lets the service hosts' network in
    ready = wait_until_ready(cluster)               # a leader and a synchronous standby (a ClusterState)
    state(cluster)                                  # ClusterState now: leader, sync_standby, replicas; lag, timeline
    create_service_database(cluster)                # the `gateway` role and database, empty: the service migrates
    balancer = start_balancer(cluster, "app1")      # HAProxy on the service host
    url = database_url(cluster, balancer)           # the service's DATABASE_URL (read-write: the primary)
    kill_node_host(cluster, cluster.node_named(ready.leader.name))   # SIGKILL every process of its host
    restart_node(cluster, node)                     # Patroni again on the same folder: it rejoins (pg_rewind)
    pause_node(cluster, node) / resume_node(cluster, node)          # SIGSTOP / SIGCONT its Patroni and PostgreSQL
    waited_for_primary(node, timeout)               # seconds until its Patroni answers GET /primary with 200
    switchover(cluster)                             # planned: the synchronous standby takes over
    psql(cluster, node, sql)                        # one statement as the superuser on the node, rows as text
    cluster.backup_dir                              # BACKUP_DIR: the primary archives into its wal/
    stop_cluster(cluster)                           # everything started here, stopped

Every server listens on a port of its own (never a default one), keeps its files under `hosts.folder`, and has its
configuration rendered from deploy/cluster (bench/cluster/cluster_configs.py). PostgreSQL and Patroni run as the
`postgres` system user when this process is root (PostgreSQL refuses root), as this process's user otherwise.
This process reads Patroni's REST API and runs psql itself: it must reach the hosts' addresses (LoopbackHosts: always).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.cluster.cluster_configs import Passwords, Timings, etcd_environment, haproxy_config, patroni_config
from bench.cluster.hosts import Hosts, LoopbackHosts
from bench.cluster.patroni_state import ClusterState, cluster_state, has_leader_and_sync_standby, rest_get, wait_for
from bench.cluster.server_processes import free_port, postmaster_pids, signal_tree, stop_processes, wait_listening

# PyPI's Patroni, pinned in its own virtualenv by `make cluster` (the Makefile's PATRONI_VENV, and why not Debian 12's
# 3.0.2); PATRONI_BIN names another.
PATRONI_BIN = Path(os.environ.get("PATRONI_BIN", "/opt/ballot-patroni-4.1.5/bin"))
PATRONI, PATRONICTL = PATRONI_BIN / "patroni", PATRONI_BIN / "patronictl"
ETCD = Path("/usr/bin/etcd")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
HAPROXY = Path(shutil.which("haproxy") or "/usr/sbin/haproxy")
SERVER_USER = "postgres"  # Debian's postgresql-common made it
SERVICE_ROLE = SERVICE_DATABASE = "gateway"
PATRONI_DEFAULTS = Timings()  # ttl 30, loop_wait 10, retry_timeout 10: the deploy template's
STARTED_WITHIN = 120.0  # three nodes' initdb and base backups on a loaded 2-core machine


def missing_binaries() -> list[str]:
    """What the cluster needs and this machine lacks (`make cluster`: Patroni from PyPI; Debian's etcd-server,
    postgresql-15, haproxy)."""
    wanted = [PATRONI, ETCD, PG_BIN / "postgres", PG_BIN / "pg_rewind", PG_BIN / "psql", HAPROXY]
    return [str(path) for path in wanted if not path.exists()]


@dataclass
class EtcdMember:
    name: str
    host: str
    address: str
    client_port: int
    peer_port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def client_address(self) -> str:
        return f"{self.address}:{self.client_port}"


@dataclass
class PostgresNode:
    """One PostgreSQL server under its Patroni; `name` is Patroni's (what /cluster and `patronictl list` show)."""

    name: str
    host: str
    address: str
    port: int
    rest_port: int
    folder: Path  # data/, sockets/, patroni.yml, patroni.log
    process: subprocess.Popen[bytes] | None = None  # Patroni's (PostgreSQL is not its child: see postmaster_pids)

    @property
    def rest_url(self) -> str:
        return f"http://{self.address}:{self.rest_port}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "patroni.log"


@dataclass
class Balancer:
    """HAProxy on a service host: `primary_port` leads to the primary, `replica_port` to a replica."""

    host: str
    address: str
    primary_port: int
    replica_port: int
    process: subprocess.Popen[bytes]


@dataclass
class PostgresCluster:
    hosts: Hosts
    etcd: list[EtcdMember]
    nodes: list[PostgresNode]
    timings: Timings
    passwords: Passwords
    service_password: str
    service_hosts: list[str]  # the hosts the service connects from: pg_hba lets their network in
    balancers: list[Balancer] = field(default_factory=list)

    @property
    def rest_urls(self) -> list[str]:
        return [node.rest_url for node in self.nodes]

    def node_named(self, name: str) -> PostgresNode:
        return next(node for node in self.nodes if node.name == name)

    @property
    def backup_dir(self) -> Path:
        """BACKUP_DIR: the primary, whichever node it is, archives into its wal/ (every host shares the folder, as
        every node of a show mounts the same storage); `gateway backup base` writes base/ there."""
        return self.hosts.folder / "backups"


def server_user() -> str | None:
    return SERVER_USER if os.geteuid() == 0 else None


def as_server_user(command: list[str]) -> list[str]:
    user = server_user()
    return ["runuser", "-u", user, "--", *command] if user else command


def owned_by_server_user(path: Path, mode: int) -> None:
    path.chmod(mode)
    if (user := server_user()) is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def start_etcd(hosts: Hosts, etcd_hosts: Iterable[str]) -> list[EtcdMember]:
    """An etcd cluster, a member on each host (named etcd1, etcd2, …), each answering /health."""
    members = [EtcdMember(f"etcd{i}", host, hosts.address(host), free_port(), free_port(), hosts.folder / f"etcd{i}")
               for i, host in enumerate(etcd_hosts, 1)]
    initial = {member.name: f"http://{member.address}:{member.peer_port}" for member in members}
    for member in members:
        member.folder.mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **etcd_environment(
            name=member.name, address=member.address, client_port=member.client_port, peer_port=member.peer_port,
            data_dir=member.folder / "data", initial_cluster=initial)}
        member.process = hosts.start(member.host, [str(ETCD)], member.folder / "etcd.log", env=env)
    for member in members:
        wait_listening(member.address, member.client_port, member.process, member.folder / "etcd.log", STARTED_WITHIN)
    return members


def start_node(cluster: PostgresCluster, node: PostgresNode) -> None:
    """Patroni on the node's host, its configuration written anew from the template (a restart keeps the data)."""
    (node.folder / "sockets").mkdir(parents=True, exist_ok=True)
    for folder, mode in ((node.folder, 0o700), (node.folder / "sockets", 0o700)):
        owned_by_server_user(folder, mode)
    config = node.folder / "patroni.yml"
    config.write_text(patroni_config(
        name=node.name, address=node.address, port=node.port, rest_port=node.rest_port,
        etcd_hosts=[member.client_address for member in cluster.etcd], data_dir=node.data_dir,
        socket_dir=node.folder / "sockets", cluster_network=network_of(cluster, [n.host for n in cluster.nodes]),
        service_network=network_of(cluster, cluster.service_hosts),
        passwords=cluster.passwords, backup_dir=cluster.backup_dir, timings=cluster.timings))
    owned_by_server_user(config, 0o600)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "HOME": str(node.folder)}
    node.process = cluster.hosts.start(node.host, as_server_user([str(PATRONI), str(config)]), node.log, env=env,
                                       cwd=node.folder)


def network_of(cluster: PostgresCluster, hosts: Iterable[str]) -> str:
    """The network pg_hba lets in for these hosts: 127.0.0.0/8 on loopback addresses, else each address's /24 (the
    namespaces' links); several networks are not taken, so all hosts of one role share one."""
    addresses = {cluster.hosts.address(host) for host in hosts}
    if all(address.startswith("127.") for address in addresses):
        return "127.0.0.0/8"
    networks = {address.rsplit(".", 1)[0] + ".0/24" for address in addresses}
    if len(networks) != 1:
        return "0.0.0.0/0"  # the hosts span networks: every address (scram-sha-256 still asks the password)
    return networks.pop()


def start_cluster(hosts: Hosts, *, etcd_hosts: Sequence[str], node_hosts: Sequence[str],
                  timings: Timings = PATRONI_DEFAULTS, service_hosts: Sequence[str] = ()) -> PostgresCluster:
    """etcd on `etcd_hosts`, then a Patroni node on each of `node_hosts` (named pg1, pg2, …); returns once each
    Patroni answers its REST API (the cluster may not have a leader yet: `wait_until_ready`). `service_hosts`: the
    hosts the service will connect from (pg_hba lets their network in), the node hosts' network if none."""
    hosts.folder.chmod(0o755)  # the server user walks through it to its own folders
    cluster = PostgresCluster(
        hosts, start_etcd(hosts, etcd_hosts), [], timings,
        Passwords(secrets.token_hex(12), secrets.token_hex(12), secrets.token_hex(12)), secrets.token_hex(12),
        list(service_hosts) or list(node_hosts))
    archive = cluster.backup_dir / "wal"
    archive.mkdir(parents=True, exist_ok=True)
    for folder in (cluster.backup_dir, archive):  # PostgreSQL (the postgres user) writes there
        owned_by_server_user(folder, 0o700)
    cluster.nodes = [PostgresNode(f"pg{i}", host, hosts.address(host), free_port(), free_port(),
                                  hosts.folder / f"pg{i}") for i, host in enumerate(node_hosts, 1)]
    for node in cluster.nodes:
        start_node(cluster, node)
    for node in cluster.nodes:
        assert node.process is not None
        wait_listening(node.address, node.rest_port, node.process, node.log, STARTED_WITHIN)
    return cluster


def wait_until_ready(cluster: PostgresCluster, timeout: float = STARTED_WITHIN) -> ClusterState:
    """The cluster once it has a leader and a running synchronous standby on its timeline (a commit is on two
    nodes); AssertionError with what Patroni says if not within `timeout` seconds."""
    return wait_for(cluster.rest_urls, has_leader_and_sync_standby, timeout, "a leader and a synchronous standby")


def state(cluster: PostgresCluster) -> ClusterState:
    """Who leads, who is the synchronous standby, each member's lag and timeline, as Patroni's /cluster says."""
    return cluster_state(cluster.rest_urls)


def psql(cluster: PostgresCluster, node: PostgresNode, sql: str, database: str = "postgres") -> str:
    """One statement through the node's Unix socket as the superuser (peer authentication), its rows as text."""
    ran = subprocess.run(as_server_user([str(PG_BIN / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
                                         "-h", str(node.folder / "sockets"), "-p", str(node.port), "-U", "postgres",
                                         "-d", database, "-c", sql]),
                         capture_output=True, text=True, timeout=60, check=False)
    if ran.returncode != 0:
        raise RuntimeError(f"psql on {node.name}: {ran.stderr.strip()}")
    return ran.stdout.strip()


def create_service_database(cluster: PostgresCluster) -> None:
    """The service's role and database on the primary, empty: `gateway run` (or `gateway migrate`) makes its
    schema. The role owns the database, so its migrations may create what they need in it."""
    leader = state(cluster).leader
    assert leader is not None, "no leader: wait_until_ready first"
    node = cluster.node_named(leader.name)
    psql(cluster, node, f"CREATE ROLE {SERVICE_ROLE} LOGIN PASSWORD '{cluster.service_password}'")
    psql(cluster, node, f"CREATE DATABASE {SERVICE_DATABASE} OWNER {SERVICE_ROLE}")


def start_balancer(cluster: PostgresCluster, host: str) -> Balancer:
    """HAProxy on a service host, rendered from deploy/cluster/haproxy-postgres.cfg; returns once it listens."""
    address, folder = cluster.hosts.address(host), cluster.hosts.folder / f"haproxy-{host}"
    folder.mkdir(parents=True, exist_ok=True)
    primary_port, replica_port = free_port(), free_port()
    config = folder / "haproxy.cfg"
    config.write_text(haproxy_config(
        primary_bind=f"{address}:{primary_port}", replica_bind=f"{address}:{replica_port}",
        nodes=[(node.name, node.address, node.port, node.rest_port) for node in cluster.nodes]))
    process = cluster.hosts.start(host, [str(HAPROXY), "-db", "-f", str(config)], folder / "haproxy.log")
    wait_listening(address, primary_port, process, folder / "haproxy.log", STARTED_WITHIN)
    balancer = Balancer(host, address, primary_port, replica_port, process)
    cluster.balancers.append(balancer)
    return balancer


def database_url(cluster: PostgresCluster, balancer: Balancer, *, replica: bool = False) -> str:
    """The service's DATABASE_URL through the balancer: the primary's port, or with `replica` the replicas'."""
    port = balancer.replica_port if replica else balancer.primary_port
    return f"postgresql://{SERVICE_ROLE}:{cluster.service_password}@{balancer.address}:{port}/{SERVICE_DATABASE}"


def primary_answers(node: PostgresNode) -> bool:
    """Whether the node's Patroni answers 200 to GET /primary (what the balancer asks)."""
    try:
        return rest_get(f"{node.rest_url}/primary", timeout=1)[0] == 200
    except OSError:
        return False


def kill_node_host(cluster: PostgresCluster, node: PostgresNode) -> None:
    """Every process of the node's host at once (SIGKILL), as a machine that loses its power: its Patroni and its
    PostgreSQL (which Patroni starts in a session of its own, so it is killed by its pid as well)."""
    postmaster = postmaster_pids(node.data_dir)
    kill_host = getattr(cluster.hosts, "kill_host", None)
    assert kill_host is not None, f"{type(cluster.hosts).__name__} cannot kill a host"
    kill_host(node.host)
    signal_tree(postmaster, signal.SIGKILL)
    node.process = None


def restart_node(cluster: PostgresCluster, node: PostgresNode) -> None:
    """Patroni started again on the node's folder: a former primary rejoins as a replica (pg_rewind)."""
    start_node(cluster, node)
    assert node.process is not None
    wait_listening(node.address, node.rest_port, node.process, node.log, STARTED_WITHIN)


def node_pids(node: PostgresNode) -> list[int]:
    return ([node.process.pid] if node.process is not None else []) + postmaster_pids(node.data_dir)


def pause_node(cluster: PostgresCluster, node: PostgresNode) -> None:
    """SIGSTOP to the node's Patroni and PostgreSQL (every backend): a machine frozen, its sockets still open."""
    signal_tree(node_pids(node), signal.SIGSTOP)


def resume_node(cluster: PostgresCluster, node: PostgresNode) -> None:
    signal_tree(node_pids(node), signal.SIGCONT)


def stop_cluster(cluster: PostgresCluster) -> None:
    """Every balancer, node and etcd member started here stopped (a paused one resumed first), PostgreSQL too."""
    stop_processes([balancer.process for balancer in cluster.balancers])
    for node in cluster.nodes:
        resume_node(cluster, node)
    # Patroni stops its PostgreSQL on SIGTERM; what it left (killed, or not stopped in time) is killed after.
    stop_processes([node.process for node in cluster.nodes if node.process is not None], grace=30)
    for node in cluster.nodes:
        signal_tree(postmaster_pids(node.data_dir), signal.SIGKILL)
    stop_processes([member.process for member in cluster.etcd if member.process is not None])


def switchover(cluster: PostgresCluster, candidate: PostgresNode | None = None) -> None:
    """A planned switchover, as an operator runs it (`patronictl switchover --force`): the leader demotes itself and
    `candidate` (by default the synchronous standby, the only one strict mode lets take over) is promoted. Returns
    once patronictl says it is done; `wait_until_ready` then waits for the new synchronous standby."""
    found = state(cluster)
    assert found.leader is not None and found.sync_standby is not None, f"no leader and standby: {found}"
    target = candidate.name if candidate is not None else found.sync_standby.name
    config = cluster.nodes[0].folder / "patroni.yml"
    ran = subprocess.run(as_server_user([str(PATRONICTL), "-c", str(config), "switchover",
                                         "--leader", found.leader.name, "--candidate", target, "--force"]),
                         capture_output=True, text=True, timeout=STARTED_WITHIN, check=False)
    if ran.returncode != 0 or "Successfully switched over" not in ran.stdout:
        raise RuntimeError(f"patronictl switchover to {target}: {ran.stdout[-1000:]}{ran.stderr[-1000:]}")


def patroni_log(node: PostgresNode) -> str:
    return node.log.read_text(errors="replace") if node.log.exists() else ""


def waited_for_primary(node: PostgresNode, timeout: float) -> float:
    """Seconds until the node's Patroni answers 200 to GET /primary (it holds the leader lock, PostgreSQL promoted)."""
    started = time.monotonic()
    while not primary_answers(node):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{node.name} is not the primary within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


SMALLEST = {"etcd1": 1, "pg1": 2, "pg2": 3, "pg3": 4, "app": 5}  # host names and their loopback numbers


@contextmanager
def smallest_cluster(folder: Path, timings: Timings = PATRONI_DEFAULTS,
                     ) -> Iterator[tuple[PostgresCluster, Balancer, LoopbackHosts]]:
    """The smallest cluster that shows a failover in strict synchronous mode, on loopback addresses under `folder`:
    1 etcd member, 3 nodes (a primary, its synchronous standby, one more to become the next), the service's database
    made, and the service host's HAProxy; everything stopped after."""
    missing = missing_binaries()
    if missing:
        raise RuntimeError(f"the PostgreSQL cluster's binaries are missing: {', '.join(missing)} (`make cluster` "
                           "installs them; `make test` too)")
    hosts = LoopbackHosts(folder, dict(SMALLEST))
    cluster = start_cluster(hosts, etcd_hosts=["etcd1"], node_hosts=["pg1", "pg2", "pg3"], timings=timings,
                            service_hosts=["app"])
    try:
        wait_until_ready(cluster)
        create_service_database(cluster)
        yield cluster, start_balancer(cluster, "app"), hosts
    finally:
        stop_cluster(cluster)
        hosts.stop()
