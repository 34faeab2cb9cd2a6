"""The board's settings, one of the bases of the assembly's `Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from gateway.kit.settings import ServiceSettings


class BoardSettings(ServiceSettings):
    # Live board streams: per address and process (carriers put many viewers behind one address),
    # and the heartbeat that keeps proxies from closing an idle stream.
    streams_per_ip: int = Field(default=100, ge=1)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # A fan-out server's publisher location (Nchan, deploy/nchan.conf), e.g. http://fanout:8091/board/: each
    # board frame is then published there once, and the front sends the stream's path to the server's
    # viewers' side. Empty: each web process streams to its own viewers (the embedded default).
    board_fanout_url: str = ""

    @field_validator("board_fanout_url")
    @classmethod
    def _ends_in_slash(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("BOARD_FANOUT_URL must be an http(s) URL of the fan-out server's publisher location")
        return url if not url or url.endswith("/") else url + "/"
