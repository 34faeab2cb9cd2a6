"""Every voter channel the service runs, in the order their routes are added. A new channel is one line here
(and its folder, channels/<name>/, with a `channel.py` building its `ChannelParts`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assembly.provider_list import PROVIDER_CONTEST_SETTINGS, PROVIDER_MIGRATIONS
from channels.sms.channel import SMS
from channels.telegram.channel import TELEGRAM
from channels.ussd.channel import USSD
from channels.web.channel import WEB
from gateway.core.channel_reports import FailedMessages
from gateway.core.channel_settings import ChannelContestSettings
from gateway.kit.channel_parts import ChannelParts

CHANNELS: tuple[ChannelParts[Any], ...] = (WEB, USSD, SMS, TELEGRAM)


def channel(name: str) -> ChannelParts[Any]:
    """A channel by name; KeyError names an unknown one."""
    for parts in CHANNELS:
        if parts.name == name:
            return parts
    raise KeyError(f"no channel named {name!r}")


# The channels whose voters pay by a prompt pushed to their phone.
PUSH_CHANNELS = frozenset(parts.name for parts in CHANNELS if parts.pushes_payment_prompt)
# The channels that message a voter once their order is decided: their orders keep that they send a receipt.
RECEIPT_CHANNELS = frozenset(parts.name for parts in CHANNELS if parts.receipts is not None)


# The channels' own migration branches (for their own tables), and the providers' after them, migrated with the
# core's.
MIGRATIONS: tuple[Path, ...] = (*(parts.migrations for parts in CHANNELS if parts.migrations is not None),
                                *PROVIDER_MIGRATIONS)
# The channels' own settings of a contest (and the providers', drawn and kept alike), and the channels' reports of
# the messages they failed to deliver.
CONTEST_SETTINGS: tuple[ChannelContestSettings, ...] = (
    *(parts.contest_settings for parts in CHANNELS if parts.contest_settings is not None),
    *PROVIDER_CONTEST_SETTINGS)
FAILED_MESSAGES: tuple[FailedMessages, ...] = tuple(
    parts.failed_messages for parts in CHANNELS if parts.failed_messages is not None)
