"""The channels' names as the tests spell them (an order's channel is its channel's `ChannelParts.name`)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    USSD = "ussd"
    SMS = "sms"
    TELEGRAM = "telegram"
    WEB = "web"
