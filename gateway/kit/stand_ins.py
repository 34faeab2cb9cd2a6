"""A local fake of an outside service (Africa's Talking, the Bot API, the MTN/Orange sandbox): a channel or a provider
declares the ones it talks to, and `gateway run` starts those its settings need in development."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from gateway.kit.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class StandIn(Generic[S]):
    """A local fake of an outside service, started by `gateway run` in development. Two parts may declare the same
    one (the MTN and Orange providers share one sandbox): it runs once, under its name."""

    name: str
    module: str  # run as `python -m <module> --host H --port P <args>`
    needed: Callable[[S], bool]
    address: Callable[[S], tuple[str, int]]
    announce: Callable[[S], str]  # its line in the URLs block
    args: Callable[[S], list[str]] = lambda settings: []
    # Environment given to every process `gateway run` starts once it runs (e.g. where to send text messages).
    environment: Callable[[S], dict[str, str]] = lambda settings: {}


def listen_address(url: str, default_port: int) -> tuple[str, int]:
    """Where a stand-in listens, from the URL the service reaches it at (`StandIn.address`)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port
