"""The show's deployment as hosts of their own (a network namespace each, bench/faults/network/topology.py): three
PostgreSQL nodes under Patroni, three etcd members, two Redis hosts (a server and a sentinel each; the third
sentinel beside etcd-1), the two `gateway run` hosts (each with its own HAProxy to the PostgreSQL primary), the
balancer, the providers' stand-ins and the clients.

The links are not shaped: every packet between two hosts still passes the user-space emulator (so a partition can
cut any pair), but none is held or lost; the emulator is a Python process on a 2-core machine, and delays would be
paid for in its CPU at 100 votes a second. Partitions are the emulator's cuts.
"""

from __future__ import annotations

from bench.faults.network.links import Link, LinkTable

POSTGRES_HOSTS = ("pg-1", "pg-2", "pg-3")
ETCD_HOSTS = ("etcd-1", "etcd-2", "etcd-3")
REDIS_HOSTS = ("redis-1", "redis-2")
SENTINEL_HOSTS = ("redis-1", "redis-2", "etcd-1")  # a majority (2 of 3) survives either Redis host's loss
WEB_HOSTS = ("web-a", "web-b")  # the names services.py's balancer configuration expects
OTHER_HOSTS = ("balancer", "providers", "clients")
HOSTS = {name: number for number, name in enumerate(
    (*POSTGRES_HOSTS, *ETCD_HOSTS, *REDIS_HOSTS, *WEB_HOSTS, *OTHER_HOSTS), start=1)}
NETWORK = "10.77.0.0/16"  # every host's address (links.address): PostgreSQL's pg_hba lets both kinds in from it


def cluster_links() -> LinkTable:
    """Every pair through the emulator, none delayed (shaping stays off)."""
    return LinkTable(dict(HOSTS), Link(0.0))


def cut_from(host: str, others: tuple[str, ...]) -> list[list[str]]:
    """The pairs a partition of `host` from `others` cuts, as the emulator's `cut` command takes them."""
    return sorted(sorted((host, other)) for other in others if other != host)
