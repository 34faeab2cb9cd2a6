"""Addresses that many people share: the networks of the mobile operators of the countries served, where
thousands of subscribers reach the Internet through one public address (carrier-grade NAT). A fraud rule that
counts "payer numbers behind one address", and the web's per-address vote limit, must see such an address as a crowd,
not as one person.

The networks come from `data/carrier_networks.csv`, made from GeoLite2's ASN data by a person (see
`data/carrier_networks_from_geolite.py`: nothing is downloaded at run time). IPv4 only: a mobile operator gives
each IPv6 subscriber a /64 of their own, which the web channel keeps as the client's address
(gateway.kit.throttle.address_key).
"""

from __future__ import annotations

import bisect
import csv
import ipaddress
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Carrier:
    country: str  # ISO 3166 alpha-2
    operator: str  # its ASN's name, as GeoLite2 spells it


@dataclass(frozen=True)
class CarrierNetworks:
    starts: tuple[int, ...]  # sorted first addresses (IPv4 as integers)
    ends: tuple[int, ...]
    carriers: tuple[Carrier, ...]


@cache
def carrier_networks() -> CarrierNetworks:
    """The list, read once per process (some 400 networks)."""
    text = resources.files("gateway.core.fraud").joinpath("data/carrier_networks.csv").read_text()
    rows = sorted(((ipaddress.IPv4Network(row["network"]), Carrier(row["country"], row["operator"]))
                   for row in csv.DictReader(text.splitlines())), key=lambda row: row[0])
    return CarrierNetworks(tuple(int(net.network_address) for net, _ in rows),
                           tuple(int(net.broadcast_address) for net, _ in rows), tuple(c for _, c in rows))


def parsed(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A client address as orders keep it (an address, or a network such as `…/64`), or None if unreadable."""
    if not address:
        return None
    try:
        return ipaddress.ip_interface(address.strip()).ip
    except ValueError:
        return None


def carrier_of(address: str | None) -> Carrier | None:
    """The mobile operator whose subscribers share `address`; None for any other address (or none)."""
    ip = parsed(address)
    if not isinstance(ip, ipaddress.IPv4Address):
        return None
    networks, value = carrier_networks(), int(ip)
    at = bisect.bisect_right(networks.starts, value) - 1
    if at >= 0 and value <= networks.ends[at]:
        return networks.carriers[at]
    return None
