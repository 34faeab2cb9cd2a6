"""Payer numbers and client addresses refused on every channel, kept by the owners of the service.

A blocked number or address gets no payment prompt: the vote core's insert refuses the order
(gateway.core.orders.placing); an address blocked while an order waits for its payment holds that order at
confirmation (gateway.core.fraud.holds). Every change is audited with what it replaced.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.entered_text import entered_text
from gateway.core.errors import DomainError, NotFound
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.db.engine import Sessions
from gateway.db.models import BlockedAddress, BlockedMsisdn

Network = IPv4Network | IPv6Network
# Wider than this would refuse a whole operator's subscribers (mobile carriers share addresses).
WIDEST_PREFIX = {4: 16, 6: 32}
# An IPv6 client is known by its /64 (gateway.kit.throttle.client_address: one subscriber's network, and all an
# address rotation keeps), so a narrower IPv6 block is widened to its /64: a /128 would never match an order.
IPV6_CLIENT_PREFIX = 64
MAX_REASON = 500


@dataclass(frozen=True)
class Blocked:
    value: str  # an E.164 number, or a network in CIDR notation (a single address as /32 or /128)
    reason: str | None
    created_at: datetime


def parse_network(text: str) -> Network:
    """An address (203.0.113.7) or a network (203.0.113.0/24, 2001:db8::/48), no wider than WIDEST_PREFIX; an IPv6
    address or network narrower than /64 as its /64, an IPv4-mapped one as IPv4."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise DomainError(f"{text.strip()[:60]!r} is not an address or a network (e.g. 203.0.113.0/24).",
                          code="invalid_field", field="address") from None
    if isinstance(network, IPv6Network) and network.network_address.ipv4_mapped is not None:
        mapped = network.network_address.ipv4_mapped  # ::ffff:203.0.113.7 is stored as 203.0.113.7
        network = ipaddress.ip_network(f"{mapped}/{max(0, network.prefixlen - 96)}", strict=False)
    if isinstance(network, IPv6Network) and network.prefixlen > IPV6_CLIENT_PREFIX:
        network = network.supernet(new_prefix=IPV6_CLIENT_PREFIX)
    widest = WIDEST_PREFIX[network.version]
    if network.prefixlen < widest:
        raise DomainError(f"A network wider than /{widest} would block a whole operator's subscribers.",
                          code="invalid_field", field="address")
    return network


def inet_of(address: str | None) -> str | None:
    """A stored client address as PostgreSQL's inet reads it, or None for anything else ("unknown")."""
    if not address:
        return None
    try:
        return str(ipaddress.ip_network(address, strict=False))
    except ValueError:
        return None


def _reason(reason: str | None) -> str | None:
    return entered_text(reason, "reason", limit=MAX_REASON, label="The reason") or None


def _number(raw: str) -> str:
    try:
        return normalise_msisdn(raw)
    except InvalidMsisdn:
        raise DomainError(f"{raw.strip()[:30]!r} is not a phone number.", code="invalid_field",
                          field="msisdn") from None


async def blocked(sessions: Sessions) -> tuple[list[Blocked], list[Blocked]]:
    """Every blocked number and address, newest first."""
    async with sessions() as session:
        numbers = (await session.scalars(select(BlockedMsisdn).order_by(BlockedMsisdn.created_at.desc()))).all()
        addresses = (await session.scalars(select(BlockedAddress).order_by(BlockedAddress.created_at.desc()))).all()
    return ([Blocked(n.msisdn, n.reason, n.created_at) for n in numbers],
            [Blocked(str(a.network), a.reason, a.created_at) for a in addresses])


async def block_number(sessions: Sessions, actor: Actor, raw: str, reason: str | None) -> str:
    msisdn = _number(raw)
    await _block(sessions, actor, NUMBERS, msisdn, msisdn, _reason(reason))
    return msisdn


async def unblock_number(sessions: Sessions, actor: Actor, raw: str) -> None:
    msisdn = _number(raw)
    await _unblock(sessions, actor, NUMBERS, msisdn, msisdn)


async def block_address(sessions: Sessions, actor: Actor, text: str, reason: str | None) -> str:
    network = parse_network(text)
    await _block(sessions, actor, ADDRESSES, network, str(network), _reason(reason))
    return str(network)


async def unblock_address(sessions: Sessions, actor: Actor, text: str) -> None:
    network = parse_network(text)
    await _unblock(sessions, actor, ADDRESSES, network, str(network))


@dataclass(frozen=True)
class BlockKind:
    """One of the two lists: its table, the column it is keyed by, and its name in the audit log."""

    table: Table
    column: str
    noun: str  # blocked.<noun>.add / .remove
    label: str  # the audit target's prefix and the key of the value in its details


NUMBERS = BlockKind(BlockedMsisdn.__table__, "msisdn", "number", "msisdn")
ADDRESSES = BlockKind(BlockedAddress.__table__, "network", "address", "address")


async def _block(sessions: Sessions, actor: Actor, kind: BlockKind, value: object, shown: str,
                 why: str | None) -> None:
    """Add (or re-word) a block, audited with the one it replaced."""
    key = kind.table.c[kind.column]
    async with sessions.begin() as session:
        before = (await session.execute(select(kind.table.c.reason).where(key == value))).one_or_none()
        await session.execute(pg_insert(kind.table).values({kind.column: value, "reason": why})
                              .on_conflict_do_update(index_elements=[key], set_={"reason": why}))
        await audit.record(session, actor, f"blocked.{kind.noun}.add", f"{kind.label}:{shown}",
                           before={kind.label: shown, "reason": before.reason} if before else None,
                           after={kind.label: shown, "reason": why})


async def _unblock(sessions: Sessions, actor: Actor, kind: BlockKind, value: object, shown: str) -> None:
    key = kind.table.c[kind.column]
    async with sessions.begin() as session:
        gone = (await session.execute(delete(kind.table).where(key == value)
                                      .returning(kind.table.c.reason))).one_or_none()
        if gone is None:
            raise NotFound(f"{shown} is not blocked.", code="not_blocked")
        await audit.record(session, actor, f"blocked.{kind.noun}.remove", f"{kind.label}:{shown}",
                           before={kind.label: shown, "reason": gone.reason})
