"""The suite's Patroni cluster (bench/cluster/postgres_cluster.py smallest_cluster: 1 etcd member, 3 nodes, HAProxy on
the service host, loopback addresses) in a scratch folder, with the shortest timings Patroni takes, and stopped at once
after the test: tests/failover/test_postgres_failover.py and tests/test_cluster_patroni_alerts.py."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator

import psutil

from bench.cluster.cluster_configs import Timings
from bench.cluster.hosts import LoopbackHosts
from bench.cluster.postgres_cluster import Balancer, PostgresCluster, smallest_cluster
from bench.cluster.server_processes import postmaster_pids
from tests.restored_folders import scratch_folder

# The shortest timings Patroni 4 takes (loop_wait + 2 * retry_timeout <= ttl): it raises a ttl under 20 s to 20
# ("ttl=8 can't be smaller than 20, adjusting..."), so a dead primary's leader key outlives it by 19-20 s whatever is
# asked; loop_wait 1 and retry_timeout 3 are its floors too. A show keeps the template's 30/10/10
# (deploy/cluster/patroni.yml) and loses its primary for some 40 s.
TIMINGS = Timings(ttl=20, loop_wait=1, retry_timeout=3)
STOPPED_WITHIN = 10.0  # an immediate shutdown's children, on a loaded machine


def scratch_cluster() -> Iterator[tuple[PostgresCluster, Balancer, LoopbackHosts]]:
    """The started cluster, its service database made (`yield from` it in a fixture); everything stopped after."""
    for scratch in scratch_folder():
        with smallest_cluster(scratch, TIMINGS) as (cluster, balancer, hosts):
            try:
                yield cluster, balancer, hosts
            finally:
                stopped_at_once(cluster, hosts)


def stopped_at_once(cluster: PostgresCluster, hosts: LoopbackHosts) -> None:
    """Every server of the scratch cluster stopped without the orderly stop smallest_cluster ends with (each Patroni
    stopping its PostgreSQL in its own time: 2-8 s a test, for data thrown away next): every host's processes killed
    (Patroni, etcd, HAProxy), then each PostgreSQL, which Patroni runs in a session of its own, told to shut down
    immediately. SIGQUIT, not SIGKILL: no checkpoint, but the server still removes its System V shared memory segment,
    which a killed one leaves behind for good once its folder is gone. smallest_cluster's stop then finds none
    running."""
    for host in list(hosts.processes):
        hosts.kill_host(host)
    postmasters = []
    for node in cluster.nodes:
        for pid in postmaster_pids(node.data_dir):
            with contextlib.suppress(psutil.Error):
                postmaster = psutil.Process(pid)
                # A killed node's postmaster.pid stays behind, and its pid may be another server's by now.
                if str(node.data_dir) in postmaster.cmdline():
                    postmaster.send_signal(signal.SIGQUIT)
                    postmasters.append(postmaster)
    deadline = time.monotonic() + STOPPED_WITHIN
    while (left := [postmaster for postmaster in postmasters if running(postmaster)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for postmaster in left:
        with contextlib.suppress(psutil.Error):
            postmaster.kill()


def running(process: psutil.Process) -> bool:
    """Neither gone nor a zombie: the postmaster is no child of this process once its Patroni is killed, and whoever
    inherits it may reap it a second or two after it exited."""
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
