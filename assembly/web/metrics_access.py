"""Who may read `/metrics` (it counts every order): peers in METRICS_ALLOW, or a scraper sending
`Authorization: Bearer <METRICS_TOKEN>`. Prometheus can do either."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from aiohttp import web
from pydantic import SecretStr

from assembly.settings import ConfigError, Settings
from gateway.kit.secret_rules import secret_problem

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
MIN_METRICS_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class MetricsAccess:
    networks: tuple[Network, ...]
    token: SecretStr | None

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsAccess:
        """Unset METRICS_ALLOW means loopback in development and nobody in production; a bad value stops start-up."""
        if settings.metrics_allow is None:
            networks = () if settings.is_production else LOOPBACK
        else:
            networks = parse_networks(settings.metrics_allow)
        token = settings.metrics_token or None  # an empty one is none
        if token is not None and (problem := secret_problem("METRICS_TOKEN", token, MIN_METRICS_TOKEN_LENGTH)):
            raise ConfigError(problem)
        return cls(networks, token)

    def allows(self, request: web.Request) -> bool:
        return self.peer_allowed(direct_peer(request)) or self.token_matches(request.headers.get("Authorization"))

    def peer_allowed(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack listener's view of an IPv4 peer
        return any(address in network for network in self.networks)

    def token_matches(self, authorization: str | None) -> bool:
        scheme, _, given = (authorization or "").partition(" ")
        if self.token is None or scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.get_secret_value().encode())


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.0.2.7` -> networks (a bare address is one host)."""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"METRICS_ALLOW must be a comma-separated list of addresses or CIDRs: {exc}") from exc


def direct_peer(request: web.Request) -> str | None:
    """The address of the socket's other end: never a forwarded header, nor a `remote` a middleware rewrote."""
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None
