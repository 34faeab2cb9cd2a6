"""The deployment's hosts, their links, and the partitions the scenario makes one at a time.

Links: 50 ms each way between any two hosts; 300 ms each way and 1% of packets lost each way to and from the
providers (MTN's sandbox and the channels' fakes), which sit far away on the public internet.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.faults.network.links import Link, LinkTable, cut_pairs

HOSTS = {"web-a": 1, "web-b": 2, "db": 3, "redis": 4, "balancer": 5, "providers": 6, "clients": 7}
BETWEEN_HOSTS = Link(0.050)
TO_PROVIDERS = Link(0.300, 0.01)


def deployment() -> LinkTable:
    return LinkTable(dict(HOSTS), BETWEEN_HOSTS, {"providers": TO_PROVIDERS})


@dataclass(frozen=True)
class Partition:
    key: str
    title: str
    host: str  # the host cut off
    others: tuple[str, ...] | None  # from which hosts (None: every other)
    hold: float  # seconds before the links are mended
    taken_out: bool | None  # whether the balancer must take `host` out (True), keep it (False), either (None)

    def pairs(self, table: LinkTable) -> list[list[str]]:
        others = list(self.others) if self.others is not None else None
        return sorted(sorted(pair) for pair in cut_pairs(table, self.host, others))


PARTITIONS = (
    # Redis away is "degraded", still ready (/readyz): the balancer must go on sending to the host.
    Partition("a", "a web host cut from Redis", "web-a", ("redis",), 20, taken_out=False),
    # Its worker (and its web process, on the same host) cut from PostgreSQL: no reconciler pass, no delivery.
    Partition("b", "a worker cut from PostgreSQL", "web-b", ("db",), 20, taken_out=None),
    # Cut from everything: its /readyz no longer answers the balancer, which must take it out.
    Partition("c", "a web host cut from everything", "web-a", None, 20, taken_out=True),
    # The providers unreachable: prompts and status checks fail, callbacks wait and then arrive in a burst.
    Partition("d", "the providers unreachable for 60 s", "providers", None, 60, taken_out=None),
)
