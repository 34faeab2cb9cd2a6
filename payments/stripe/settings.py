"""Stripe's settings (no local sandbox: without keys, cards are not offered)."""

from __future__ import annotations

from typing import Annotated

from pydantic import SecretStr

from gateway.kit.settings import ServiceSettings
from payments.settings import NEEDED_SECRET


class StripeSettings(ServiceSettings):
    """Stripe Checkout (`payments.stripe`)."""

    stripe_secret_key: Annotated[SecretStr | None, NEEDED_SECRET] = None
    stripe_webhook_secret: Annotated[SecretStr | None, NEEDED_SECRET] = None
    stripe_api_base: str | None = None
