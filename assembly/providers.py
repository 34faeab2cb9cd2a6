"""The payment providers the service runs, from the composed settings: the Stars provider sends its invoices
through the Telegram channel's bot, and a provider with both ways to pay pushes a prompt for the channels
that declared it (`ChannelParts.pushes_payment_prompt`)."""

from __future__ import annotations

import httpx

from assembly.channel_list import PUSH_CHANNELS
from assembly.settings import Settings
from channels.telegram.settings import telegram_bot_address
from payments.registry import ProviderRegistry, StarsBot, build_registry


def build_providers(settings: Settings, http: httpx.AsyncClient) -> ProviderRegistry:
    bot = telegram_bot_address(settings)
    stars_bot = StarsBot(bot.token, bot.api_base) if bot is not None else None
    return build_registry(settings, http, stars_bot, push_channels=PUSH_CHANNELS)
