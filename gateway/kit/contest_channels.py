"""Pub/sub channels named per contest, `db{n}:{topic}:{contest id}:{event}`: a board's tallies changed
(`leaderboard:42:changed`), its overlay cued (`overlay:42:cued`). The Redis database's number leads the name, for
PUBLISH reaches every database's subscribers: a process hears its own database's contests only."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis


def channel_prefix(redis: Redis) -> str:
    """`db{n}:` for the client's Redis database."""
    return f"db{int(redis.connection_pool.connection_kwargs.get('db') or 0)}:"


@dataclass(frozen=True)
class ContestChannels:
    topic: str  # leaderboard, overlay
    event: str  # changed, cued

    def name(self, redis: Redis, contest_id: int) -> str:
        return f"{channel_prefix(redis)}{self.topic}:{contest_id}:{self.event}"

    def pattern(self, redis: Redis) -> str:
        """What a process subscribes to: its own database's contests."""
        return f"{channel_prefix(redis)}{self.topic}:*:{self.event}"

    def contest_of(self, channel: bytes | str) -> int | None:
        """`db0:leaderboard:42:changed` -> 42; a channel of another topic or event, or no channel of ours -> None."""
        name = channel.decode() if isinstance(channel, bytes) else channel
        parts = name.split(":")
        if len(parts) != 4 or not parts[0].startswith("db") or not _digits(parts[0][2:]):
            return None
        if parts[1] == self.topic and parts[3] == self.event and _digits(parts[2]):
            return int(parts[2])
        return None


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
