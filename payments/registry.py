"""Builds the enabled providers from settings and picks the one that serves an order.

In development a mobile-money provider with no credentials talks to the local sandbox
(`gateway run` starts it); in production it must have real credentials (config refuses otherwise).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from gateway.core.providers import (
    AccountBalance,
    PaymentError,
    PaymentList,
    PaymentProvider,
    PayoutsSent,
    RefundsSent,
    SecretHeaders,
)
from payments.mtn import MtnMomoCollection
from payments.mtn.api import MtnApi, MtnCredentials
from payments.mtn.callback_secret import callback_key
from payments.mtn.disbursement import MtnDisbursement
from payments.orange import OrangePush, OrangeWebPay, PushCredentials, WebPayCredentials
from payments.settings import (
    MtnDisbursementSettings,
    MtnSettings,
    OrangePushSettings,
    OrangeWebPaySettings,
    PaymentSettings,
    StripeSettings,
    unset_settings,
)
from payments.stars import StarsInvoices
from payments.stripe import StripeCheckout

log = logging.getLogger(__name__)

def implementation_key(provider: str, channel: str, push_channels: Collection[str]) -> str:
    """Orange has two APIs: a push prompt for the channels whose voters have only a phone
    (`ChannelParts.pushes_payment_prompt`), a payment page for every other."""
    if provider == "orange":
        return "orange_push" if channel in push_channels else "orange_webpay"
    return provider


@dataclass
class ProviderRegistry:
    providers: dict[str, PaymentProvider] = field(default_factory=dict)
    push_channels: frozenset[str] = frozenset()  # the channels that push a payment prompt to the voter's phone
    # Providers whose refunds go out by their own API, followed by the core (MTN's Disbursement).
    refunders: dict[str, RefundsSent] = field(default_factory=dict)
    payout_senders: dict[str, PayoutsSent] = field(default_factory=dict)  # payouts to wallets, by the same API

    def refunder(self, provider: str) -> RefundsSent | None:
        return self.refunders.get(provider)

    def payout_sender(self, provider: str) -> PayoutsSent | None:
        return self.payout_senders.get(provider)

    def balances(self, provider: str) -> list[AccountBalance]:
        found: list[AccountBalance] = []
        for implementation in (self.providers.get(provider), self.refunders.get(provider)):
            if isinstance(implementation, AccountBalance) and implementation not in found:
                found.append(implementation)
        return found

    def get(self, key: str) -> PaymentProvider:
        try:
            return self.providers[key]
        except KeyError as exc:
            raise PaymentError(key, "provider_unavailable",
                               "This payment method is not available right now.") from exc

    def for_order(self, provider: str, channel: str) -> PaymentProvider:
        return self.get(implementation_key(provider, channel, self.push_channels))

    def offers(self, provider: str) -> bool:
        """Whether any implementation of `provider` is set up here (Orange has two)."""
        return any(key == provider or key.startswith(f"{provider}_") for key in self.providers)

    def payment_lists(self) -> dict[str, PaymentList]:
        """Providers verified against their list of payments (Stars): each is its provider's only implementation."""
        return {key: provider for key, provider in self.providers.items() if isinstance(provider, PaymentList)}

    def secret_headers(self) -> frozenset[str]:
        return frozenset().union(*(provider.secret_headers for provider in self.providers.values()
                                   if isinstance(provider, SecretHeaders)))

    async def aclose(self) -> None:
        """Release what providers opened themselves (the shared HTTP client is not theirs)."""
        for provider in self.providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()


def disbursement_credentials(settings: PaymentSettings, collection: MtnCredentials | None,
                             sandbox: str | None) -> MtnCredentials | None:
    """The Disbursement product's own subscription, on the Collection's host and environment; the sandbox's in
    development (only where the Collection is the sandbox's too)."""
    if collection is None:
        return None
    if not unset_settings(MtnDisbursementSettings, settings):
        return MtnCredentials(collection.base_url, revealed(settings.mtn_disbursement_subscription_key),
                              settings.mtn_disbursement_api_user or "",
                              revealed(settings.mtn_disbursement_api_key), collection.target_environment)
    if sandbox is None or collection.base_url != sandbox:
        return None
    return MtnCredentials(sandbox, "sandbox-disbursement-key", "sandbox-payout-user", "sandbox-payout-key",
                          "sandbox")


def mtn_credentials(mtn: MtnSettings, sandbox: str | None) -> MtnCredentials | None:
    """MTN's own credentials when all are set, else the sandbox's (`sandbox`: its URL, None: not here)."""
    if not unset_settings(MtnSettings, mtn):
        return MtnCredentials(mtn.mtn_momo_base_url or "", revealed(mtn.mtn_momo_subscription_key),
                              mtn.mtn_momo_api_user or "", revealed(mtn.mtn_momo_api_key),
                              mtn.mtn_momo_target_environment)
    if sandbox is None:
        return None
    # The local sandbox stands in for production MTN too, so it takes XAF (MTN's own sandbox takes only EUR).
    return MtnCredentials(sandbox, "sandbox-subscription-key", "sandbox-api-user", "sandbox-api-key", "sandbox")


def revealed(secret: SecretStr | None) -> str:
    """A secret setting's value, only where it is handed to its provider's client ("" when unset)."""
    return secret.get_secret_value() if secret is not None else ""


def sandbox_address(settings: PaymentSettings, path: str) -> str | None:
    """The sandbox URL for a provider without credentials, in development only."""
    if settings.is_production or not settings.sandbox_enabled:
        return None
    return f"{settings.sandbox_url.rstrip('/')}/{path}"


def webpay_credentials(webpay: OrangeWebPaySettings, sandbox: str | None) -> WebPayCredentials | None:
    if not unset_settings(OrangeWebPaySettings, webpay):
        base = webpay.orange_money_base_url or ""
        return WebPayCredentials(base, webpay.orange_money_token_url or f"{base.rstrip('/')}/oauth/v3/token",
                                 webpay.orange_money_client_id or "", revealed(webpay.orange_money_client_secret),
                                 revealed(webpay.orange_money_merchant_key), webpay.orange_money_country)
    if sandbox is None:
        return None
    return WebPayCredentials(sandbox, f"{sandbox}/oauth/v3/token", "sandbox-client", "sandbox-secret",
                             "sandbox-merchant", "dev")


def push_credentials(push: OrangePushSettings, sandbox: str | None) -> PushCredentials | None:
    if not unset_settings(OrangePushSettings, push):
        return PushCredentials(
            push.orange_money_push_base_url or "", push.orange_money_push_consumer_key or "",
            revealed(push.orange_money_push_consumer_secret), push.orange_money_push_username or "",
            revealed(push.orange_money_push_password), push.orange_money_channel_msisdn or "",
            revealed(push.orange_money_pin))
    if sandbox is None:
        return None
    return PushCredentials(sandbox, "sandbox-key", "sandbox-secret", "sandbox-user", "sandbox-pass",
                           "699000000", "1234")


def stripe_keys(stripe: StripeSettings) -> tuple[str, str] | None:
    """The secret key and webhook secret, when both are set (Stripe has no local sandbox)."""
    if unset_settings(StripeSettings, stripe):
        return None
    return revealed(stripe.stripe_secret_key), revealed(stripe.stripe_webhook_secret)


@dataclass(frozen=True)
class StarsBot:
    """The bot Stars invoices go through (the Telegram channel's settings say which: `assembly.providers`)."""

    token: str
    api_base: str | None  # None: Telegram itself


def build_registry(settings: PaymentSettings, http: httpx.AsyncClient, stars_bot: StarsBot | None, *,
                   push_channels: Collection[str] = ()) -> ProviderRegistry:
    """Each provider gets its own part of the settings (a PaymentSettings is each provider's settings model);
    `push_channels`: the channels that declared they push a payment prompt (the assembly reads them from the
    channels' parts: `assembly.providers`)."""
    registry = ProviderRegistry(push_channels=frozenset(push_channels))
    if (mtn := mtn_credentials(settings, sandbox_address(settings, "mtn"))) is not None:
        registry.providers["mtn"] = MtnMomoCollection(
            http, mtn, settings.public_base_url,
            status_calls_per_second=settings.mtn_momo_status_calls_per_second or None,
            callback_key=callback_key(settings.secret_key.get_secret_value()))  # keyed callback URLs
    if (payouts := disbursement_credentials(settings, mtn, sandbox_address(settings, "mtn"))) is not None:
        disbursement = MtnDisbursement(MtnApi(http, payouts, "disbursement"), settings.public_base_url,
                                       callback_key(settings.secret_key.get_secret_value()))
        registry.refunders["mtn"] = registry.payout_senders["mtn"] = disbursement
    if (webpay := webpay_credentials(settings, sandbox_address(settings, "orange"))) is not None:
        registry.providers["orange_webpay"] = OrangeWebPay(http, webpay, settings.public_base_url)
    if (push := push_credentials(settings, sandbox_address(settings, "orange"))) is not None:
        registry.providers["orange_push"] = OrangePush(http, push, settings.public_base_url)
    if (stripe := stripe_keys(settings)) is not None:  # without keys, card payments are simply not offered
        registry.providers["stripe"] = StripeCheckout(*stripe, settings.public_base_url, settings.stripe_api_base)
    # Telegram Stars: wherever the bot runs (the fake Bot API in development without a token).
    if stars_bot is not None:
        registry.providers["stars"] = StarsInvoices(http, stars_bot.token, stars_bot.api_base)
    return registry
