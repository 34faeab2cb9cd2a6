"""Tuning of the live board in one web process; tests shorten the intervals."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamConfig:
    heartbeat_seconds: float = 15.0  # a `: ping` comment this often keeps proxies and NATs from idling us out
    coalesce_seconds: float = 0.25  # at most one frame per contest this often: ~4 per second
    queue_size: int = 8  # frames a viewer may lag behind (~2 s) before it is dropped
    retry_ms: int = 3000  # how long EventSource waits before reconnecting
    streams_per_ip: int = 100  # per process; mobile carriers put many viewers behind one address (CGNAT)
    contest_ttl_seconds: float = 2.0  # how long a process trusts its copy of a contest's board settings
    shutdown_grace_seconds: float = 1.0  # streams that have not ended by then are cut
    send_buffer_bytes: int | None = None  # caps a connection's socket and write buffers (None: OS defaults)
