"""The payment providers the service runs, from the composed settings: a provider paid in the chat sends its invoices
through the Telegram channel's bot, and a provider with two ways to pay pushes a prompt for the channels that
declared it (`ChannelParts.pushes_payment_prompt`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from redis.asyncio import Redis

from assembly.channel_list import PUSH_CHANNELS
from assembly.provider_list import PROVIDERS
from assembly.settings import Settings
from channels.telegram.settings import telegram_bot_address
from gateway.kit.provider_parts import ChatBot, ProviderParts, ProviderResources
from payments.registry import ProviderRegistry, build_registry


def chat_bot(settings: Settings) -> ChatBot | None:
    """The Telegram channel's bot, wherever it runs (the fake Bot API in development without a token)."""
    bot = telegram_bot_address(settings)
    return ChatBot(bot.token, bot.api_base) if bot is not None else None


def build_providers(settings: Settings, http: httpx.AsyncClient, providers: Sequence[ProviderParts[Any]] = PROVIDERS,
                    redis: Redis | None = None) -> ProviderRegistry:
    """`redis`: where the providers' caps on our calls are shared with the other processes (else kept here)."""
    return build_registry(providers, settings, ProviderResources(http, chat_bot(settings), redis),
                          push_channels=PUSH_CHANNELS)
