"""Stripe as the assembly plugs it in (`STRIPE`): card payments on its hosted page, proven by signed webhooks,
refunded by its API at once, its books listing every charge. Without its keys, cards are simply not offered."""

from __future__ import annotations

from aiohttp import web

from gateway.core.money import Chargeable, ChargeRange
from gateway.core.providers import CallbackRejected, Capability
from gateway.kit.answers import error_body
from gateway.kit.provider_parts import ChatBot, Implementations, ProviderParts, ProviderResources
from payments.callbacks import take_callback
from payments.settings import plain_addresses, revealed, secret_problems, unset_settings
from payments.stripe import NAME
from payments.stripe.settings import StripeSettings

STRIPE_API = "https://api.stripe.com"
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")  # its test mode: production must take real cards
# Stripe's amounts: at most eight digits of minor units, at least about USD 0.50 a payment (its own table for the
# currencies it settles; ~330 francs CFA, which it converts).
MOST = 99_999_999
CHARGES = Chargeable({"USD": ChargeRange(50, MOST), "EUR": ChargeRange(50, MOST), "GBP": ChargeRange(30, MOST),
                      "XAF": ChargeRange(330, MOST), "XOF": ChargeRange(330, MOST)}, others=ChargeRange(1, MOST),
                     # Stripe's "special cases": its API counts these otherwise than ISO 4217's minor units (ISK and
                     # UGX in a two-decimal form divisible by 100, HUF and TWD two-decimal for charges, whole for
                     # payouts); we send ISO minor units, so they are refused at a contest's save, not mischarged.
                     refused=frozenset({"ISK", "UGX", "HUF", "TWD"}))


def build(settings: StripeSettings, resources: ProviderResources) -> Implementations:
    """Stripe's library is imported here, as the process starts, and only where cards are offered (~13 ms of CPU
    a start, `requests` aside, which the phone channels load anyway)."""
    if unset_settings(StripeSettings, settings):
        return Implementations()
    from payments.stripe.checkout import StripeCheckout
    checkout = StripeCheckout(revealed(settings.stripe_secret_key), revealed(settings.stripe_webhook_secret),
                              settings.public_base_url, settings.stripe_api_base)
    return Implementations.one(checkout)


def missing_settings(settings: StripeSettings) -> list[str]:
    return unset_settings(StripeSettings, settings)


def production_problems(settings: StripeSettings, in_use: bool) -> list[str]:
    """Its secrets where a contest uses it; and, used or offered (its keys set), a live key over https."""
    problems = secret_problems(StripeSettings, settings) if in_use else []
    if not in_use and missing_settings(settings):
        return problems
    key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    if key.startswith(TEST_KEY_PREFIXES):
        problems.append("STRIPE_SECRET_KEY is a test-mode key (sk_test_/rk_test_): Stripe takes no real card "
                        "with it; set the live one (sk_live_/rk_live_)")
    return problems + plain_addresses(settings, "STRIPE_API_BASE")


def addresses(settings: StripeSettings, chat_bot: ChatBot | None) -> list[str]:
    return [settings.stripe_api_base or STRIPE_API]


async def stripe_webhook(request: web.Request) -> web.Response:
    """Stripe names no order in its URL but signs every event."""
    try:
        outcome = await take_callback(request, NAME, None, signed=True)
    except CallbackRejected as exc:
        return error_body(400, exc.code, exc.message)
    return web.json_response({"received": True, "outcome": outcome.outcome})


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/payments/stripe/webhook", stripe_webhook)


STRIPE = ProviderParts[StripeSettings](
    NAME, "Bank card", frozenset({Capability.REDIRECT, Capability.STATEMENT_LISTING}), build, routes=setup_routes,
    charges=CHARGES, missing_settings=missing_settings, production_problems=production_problems, addresses=addresses)
