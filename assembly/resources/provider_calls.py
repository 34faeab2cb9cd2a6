"""Which provider a request of the shared HTTP client went to, by its address: the providers' clients all send
through one client (`assembly.resources.http_client`), so its transport tells `gateway_provider_calls_total` how each
was answered (a 429, a time-out) without any provider's code knowing about metrics. Requests to no provider's
address (the media storage, the SMS gateway) are not counted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from assembly.provider_list import PROVIDERS
from assembly.resources.providers import chat_bot
from assembly.settings import Settings
from gateway.kit.provider_parts import ProviderParts
from gateway.kit.service_levels import ServiceLevels


def provider_prefixes(settings: Settings, providers: Sequence[ProviderParts[Any]] = PROVIDERS
                      ) -> tuple[tuple[str, str], ...]:
    """(address prefix, provider) pairs, longest prefix first, from each provider's `addresses` (the sandbox's
    stand-ins count as their provider)."""
    bot = chat_bot(settings)
    pairs = [(prefix, parts.name) for parts in providers for prefix in parts.addresses(settings, bot)]
    known = {(prefix.rstrip("/"), name) for prefix, name in pairs if prefix}
    return tuple(sorted(known, key=lambda pair: -len(pair[0])))


def provider_of(prefixes: tuple[tuple[str, str], ...], url: str) -> str | None:
    for prefix, name in prefixes:
        if url == prefix or url.startswith(prefix + "/"):
            return name
    return None


def call_noter(settings: Settings, levels: ServiceLevels, providers: Sequence[ProviderParts[Any]] = PROVIDERS
               ) -> Callable[[httpx.Request, str], None]:
    """What the shared client's transport calls with each request and how it was answered."""
    prefixes = provider_prefixes(settings, providers)

    def note(request: httpx.Request, outcome: str) -> None:
        # The address without its query and fragment, as httpx wrote it (neither '?' nor '#' is left unescaped
        # before them): cut from the string rather than parsed again into a new URL for every request.
        url = str(request.url).partition("?")[0].partition("#")[0]
        if (provider := provider_of(prefixes, url)) is not None:
            levels.note_call(provider, outcome)

    return note
