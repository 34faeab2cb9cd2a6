"""The board's settings, one of the bases of the assembly's `Settings`."""

from __future__ import annotations

from pydantic import Field

from gateway.kit.settings import ServiceSettings


class BoardSettings(ServiceSettings):
    # Live board streams: per address and process (carriers put many viewers behind one address),
    # and the heartbeat that keeps proxies from closing an idle stream.
    streams_per_ip: int = Field(default=100, ge=1)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
