"""The demo contest with every channel's demo settings of it (SMS's short code and keyword…): the core's seed
(gateway.db.seed) knows no channel, the channel list does."""

from __future__ import annotations

from assembly.channel_list import CONTEST_SETTINGS
from gateway.db import seed
from gateway.db.engine import Sessions
from gateway.db.models import Contest


async def seed_demo(sessions: Sessions) -> Contest:
    """Create the demo contest if missing; keep it open if an old one is about to close."""
    return await seed.seed_demo(sessions, [channel.demo().save for channel in CONTEST_SETTINGS])
