"""The broadcast overlay's cue: whether a contest's overlay is on air, and in which layout, as the producer sets it in
the control room (the admin area writes it) and every open overlay page follows (the web draws it).

Kept in Redis, one small key a contest, and announced on a channel of its own: the board's hub subscribes to it
beside its boards' channels and sends the contest's board again, which carries the cue (`leaderboard.board`), so
an overlay learns it on the stream it already has, through the fan-out server too, within a second. No database
row: a cue lost with Redis falls back to shown, in each overlay's own layout (what its address says)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway.kit.contest_channels import ContestChannels

# The overlay's layouts: the full board, a lower-third strip with the codes, a small corner bug (the top three).
LAYOUTS = ("board", "strip", "corner")


@dataclass(frozen=True, slots=True)
class OverlayCue:
    shown: bool = True
    layout: str | None = None  # None: each overlay's own (its `?layout=`, else the board)

    def as_json(self) -> dict[str, object]:
        return {"shown": self.shown, "layout": self.layout}


UNCUED = OverlayCue()  # no word from the control room: shown, each overlay in its own layout


def cue_key(contest_id: int) -> str:
    return f"overlay:{contest_id}:cue"


# Where a cue is said: `db0:overlay:42:cued` (heard by the board's hub, which sends the board again).
CUE_CHANNELS = ContestChannels("overlay", "cued")
channel_name, channel_pattern, contest_from_channel = (CUE_CHANNELS.name, CUE_CHANNELS.pattern,
                                                       CUE_CHANNELS.contest_of)


def parse_cue(raw: bytes | str | None) -> OverlayCue:
    """A stored cue; anything unreadable is the default (shown, each overlay's own layout)."""
    if raw is None:
        return OverlayCue()
    try:
        data = json.loads(raw)
    except ValueError:
        return OverlayCue()
    if not isinstance(data, dict):
        return OverlayCue()
    layout = data.get("layout")
    return OverlayCue(data.get("shown") is not False, layout if layout in LAYOUTS else None)


async def read_cue(redis: Redis, contest_id: int) -> OverlayCue:
    return parse_cue(await redis.get(cue_key(contest_id)))


async def set_cue(redis: Redis, contest_id: int, cue: OverlayCue) -> None:
    """Store the cue and announce it: the boards' hubs send the contest's board again, with it."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(cue_key(contest_id), json.dumps(cue.as_json()))
        pipe.publish(channel_name(redis, contest_id), "cue")
        await pipe.execute()
