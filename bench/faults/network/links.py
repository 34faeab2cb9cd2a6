"""What the link emulator decides for each packet, as plain functions: which host sent it and which it is for, how
long its link holds it, whether the link loses it, whether a partition cuts the pair.

Each host has a /24 of its own, 10.77.<host number>.0/24 (the router is .1, the host .2), so a packet's hosts are
the third octets of its IPv4 source and destination. A pair's link is the same both ways; a host's own link (the
providers' far, lossy one) applies to every pair it is in, else the default link. A cut pair loses every packet
both ways, as a partition does; the delays apply only once shaping is on (the hosts start, migrate and seed on
fast links, then the run shapes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NETWORK = (10, 77)  # the first two octets of every host's address


@dataclass(frozen=True)
class Link:
    delay: float  # seconds, one way
    loss: float = 0.0  # the share of packets lost, each way


@dataclass
class LinkTable:
    hosts: dict[str, int]  # host name -> its number (the third octet of its address)
    default: Link
    own: dict[str, Link] = field(default_factory=dict)  # a host's link to every other host
    cut: set[frozenset[str]] = field(default_factory=set)  # pairs that reach each other no more
    shaping: bool = False

    def name_of(self, number: int) -> str | None:
        return next((name for name, n in self.hosts.items() if n == number), None)

    def link(self, a: str, b: str) -> Link:
        return self.own.get(a) or self.own.get(b) or self.default

    def as_json(self) -> dict[str, Any]:
        return {"hosts": self.hosts, "default": [self.default.delay, self.default.loss],
                "own": {name: [link.delay, link.loss] for name, link in self.own.items()},
                "cut": sorted(sorted(pair) for pair in self.cut), "shaping": self.shaping}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinkTable:
        return cls({name: int(n) for name, n in data["hosts"].items()}, Link(*data["default"]),
                   {name: Link(*link) for name, link in data.get("own", {}).items()},
                   {frozenset(pair) for pair in data.get("cut", [])}, bool(data.get("shaping", False)))


def address(number: int) -> str:
    """A host's address."""
    return f"{NETWORK[0]}.{NETWORK[1]}.{number}.2"


def router_address(number: int) -> str:
    """The router's address on a host's link (the host's default gateway)."""
    return f"{NETWORK[0]}.{NETWORK[1]}.{number}.1"


def endpoints(packet: bytes) -> tuple[int, int] | None:
    """The host numbers of an IPv4 packet's source and destination; None for anything else (IPv6, another net)."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    if tuple(packet[12:14]) != NETWORK or tuple(packet[16:18]) != NETWORK:
        return None
    return packet[14], packet[18]


def fate(table: LinkTable, packet: bytes, draw: float) -> float | None:
    """How long the packet's link holds it, or None if it is lost (cut pair, or `draw` under the link's loss;
    `draw` is uniform in [0, 1)). A packet of no known pair passes at once (it is not between our hosts)."""
    found = endpoints(packet)
    if found is None:
        return 0.0
    source, destination = table.name_of(found[0]), table.name_of(found[1])
    if source is None or destination is None:
        return 0.0
    if frozenset((source, destination)) in table.cut:
        return None
    if not table.shaping:
        return 0.0
    link = table.link(source, destination)
    if draw < link.loss:
        return None
    return link.delay


def cut_pairs(table: LinkTable, host: str, others: list[str] | None = None) -> set[frozenset[str]]:
    """The pairs that cut `host` from `others` (every other host when None)."""
    return {frozenset((host, other)) for other in (others if others is not None else table.hosts) if other != host}
