"""Builds the enabled providers from settings and picks the one that serves an order.

In development a mobile-money provider with no credentials talks to the local sandbox
(`gateway run` starts it); in production it must have real credentials (config refuses otherwise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx

from gateway.config import Settings
from payments.base import PaymentError, PaymentProvider
from payments.mtn import MtnMomoCollection
from payments.mtn.collection import MtnCredentials
from payments.stripe import StripeCheckout

log = logging.getLogger(__name__)

# Orange has two APIs: a push prompt for phone-only voters, a payment page for web and Telegram.
PUSH_CHANNELS = frozenset({"ussd", "sms"})


def implementation_key(provider: str, channel: str) -> str:
    if provider == "orange":
        return "orange_push" if channel in PUSH_CHANNELS else "orange_webpay"
    return provider


@dataclass
class ProviderRegistry:
    providers: dict[str, PaymentProvider] = field(default_factory=dict)

    def get(self, key: str) -> PaymentProvider:
        try:
            return self.providers[key]
        except KeyError as exc:
            raise PaymentError(key, "provider_unavailable",
                               "This payment method is not available right now.") from exc

    def for_order(self, provider: str, channel: str) -> PaymentProvider:
        return self.get(implementation_key(provider, channel))

    async def aclose(self) -> None:
        """Release what providers opened themselves (the shared HTTP client is not theirs)."""
        for provider in self.providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()

    def available(self, provider: str) -> bool:
        return any(key == provider or key.startswith(f"{provider}_") for key in self.providers)


def mtn_credentials(settings: Settings) -> MtnCredentials | None:
    if not settings.missing_provider_credentials("mtn") and settings.mtn_momo_base_url:
        return MtnCredentials(settings.mtn_momo_base_url, settings.mtn_momo_subscription_key or "",
                              settings.mtn_momo_api_user or "", settings.mtn_momo_api_key or "",
                              settings.mtn_momo_target_environment)
    if settings.is_production:
        return None
    return MtnCredentials(f"{settings.sandbox_url.rstrip('/')}/mtn", "sandbox-subscription-key",
                          "sandbox-api-user", "sandbox-api-key", "sandbox")


def build_registry(settings: Settings, http: httpx.AsyncClient) -> ProviderRegistry:
    registry = ProviderRegistry()
    if (mtn := mtn_credentials(settings)) is not None:
        registry.providers["mtn"] = MtnMomoCollection(http, mtn, settings.public_base_url)
    if settings.stripe_secret_key and settings.stripe_webhook_secret:
        # Stripe has no local sandbox: without keys, card payments are simply not offered.
        registry.providers["stripe"] = StripeCheckout(settings.stripe_secret_key, settings.stripe_webhook_secret,
                                                      settings.public_base_url, settings.stripe_api_base)
    return registry
