"""Which provider a request of the shared HTTP client went to, by its address: the providers' clients all send
through one client (`assembly.http_client`), so its transport tells `gateway_provider_calls_total` how each was
answered (a 429, a time-out) without any provider's code knowing about metrics. Requests to no provider's
address (the media storage, the SMS gateway) are not counted."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from assembly.settings import Settings
from gateway.kit.service_levels import ServiceLevels

STRIPE_API = "https://api.stripe.com"
TELEGRAM_API = "https://api.telegram.org"


def provider_prefixes(settings: Settings) -> tuple[tuple[str, str], ...]:
    """(address prefix, provider) pairs, longest prefix first; the sandbox's stand-ins count as their provider."""
    sandbox = settings.sandbox_url.rstrip("/")
    pairs = [
        (settings.mtn_momo_base_url, "mtn"), (f"{sandbox}/mtn", "mtn"),
        (settings.orange_money_base_url, "orange"), (settings.orange_money_token_url, "orange"),
        (settings.orange_money_push_base_url, "orange"), (f"{sandbox}/orange", "orange"),
        (settings.stripe_api_base or STRIPE_API, "stripe"),
        (settings.telegram_api_base or TELEGRAM_API, "stars"),
    ]
    known = {(prefix.rstrip("/"), name) for prefix, name in pairs if prefix}
    return tuple(sorted(known, key=lambda pair: -len(pair[0])))


def provider_of(prefixes: tuple[tuple[str, str], ...], url: str) -> str | None:
    for prefix, name in prefixes:
        if url == prefix or url.startswith(prefix + "/"):
            return name
    return None


def call_noter(settings: Settings, levels: ServiceLevels) -> Callable[[httpx.Request, str], None]:
    """What the shared client's transport calls with each request and how it was answered."""
    prefixes = provider_prefixes(settings)

    def note(request: httpx.Request, outcome: str) -> None:
        url = str(request.url.copy_with(query=None, fragment=None))
        if (provider := provider_of(prefixes, url)) is not None:
            levels.note_call(provider, outcome)

    return note
