"""Every voter channel the service runs, in the order their routes are added. A new channel is one line here
(and its folder, channels/<name>/, with a `channel.py` building its `ChannelParts`)."""

from __future__ import annotations

from pathlib import Path

from channels.sms.channel import SMS
from channels.telegram.channel import TELEGRAM
from channels.ussd.channel import USSD
from channels.web.channel import WEB
from gateway.channel_parts import ChannelParts

CHANNELS: tuple[ChannelParts, ...] = (WEB, USSD, SMS, TELEGRAM)


def channel(name: str) -> ChannelParts:
    """A channel by name; KeyError names an unknown one."""
    for parts in CHANNELS:
        if parts.name == name:
            return parts
    raise KeyError(f"no channel named {name!r}")


# The channels' own migration branches (for their own tables), migrated with the core's.
MIGRATIONS: tuple[Path, ...] = tuple(parts.migrations for parts in CHANNELS if parts.migrations is not None)
