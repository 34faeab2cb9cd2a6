"""Telegram Stars as the assembly plugs it in (`STARS`): votes sold in the bot's chat, wherever the bot runs (the fake
Bot API in development without a token); its list of transactions verifies what the webhook counted, and a pass a
minute finds the payments the webhook missed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.core.money import Chargeable, ChargeRange
from gateway.core.providers import Capability, PaymentError
from gateway.core.worker_passes import WorkerPass
from gateway.kit.job_resources import JobResources
from gateway.kit.provider_parts import ChatBot, Implementations, ProviderParts, ProviderResources
from payments.stars.invoice import NAME, TELEGRAM_API, StarsInvoices
from payments.stars.settings import StarsSettings
from payments.stars.sync import stars_check_pass


def build(settings: StarsSettings, resources: ProviderResources) -> Implementations:
    bot = resources.chat_bot
    if bot is None:  # no bot here (production without its token): nothing sold in Stars
        return Implementations()
    return Implementations.one(StarsInvoices(resources.http, bot.token, bot.api_base,
                                             lags_by=timedelta(seconds=settings.stars_verify_within_seconds)))


async def missed_payments(ctx: JobResources[Any]) -> int:
    """Stars payments whose update never reached the webhook, counted (`payments.stars.sync`)."""
    try:
        stars = ctx.providers.get(NAME)
    except PaymentError:  # not set up here
        return 0
    return await stars_check_pass(ctx, stars) if isinstance(stars, StarsInvoices) else 0


def addresses(settings: StarsSettings, chat_bot: ChatBot | None) -> list[str]:
    return [chat_bot.api_base or TELEGRAM_API] if chat_bot is not None else [TELEGRAM_API]


# An invoice in Stars (XTR), whole Stars, at most 10,000 a vote; no other currency.
CHARGES = Chargeable({"XTR": ChargeRange(1, 10_000)}, others=None)

STARS = ProviderParts[StarsSettings](
    NAME, "Telegram Stars", frozenset({Capability.IN_CHAT, Capability.STATEMENT_LISTING}), build, charges=CHARGES,
    passes=(WorkerPass(f"{NAME}-missed-payments", missed_payments, every=60),), addresses=addresses)
