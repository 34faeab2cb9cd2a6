"""Stripe Checkout: card payments on Stripe's hosted page, proven by signed webhooks."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.stripe.checkout import StripeCheckout

__all__ = ["NAME", "StripeCheckout"]

NAME = "stripe"  # the provider's name, as orders and callbacks carry it


def __getattr__(name: str) -> object:
    """Checkout (and Stripe's library) imported when first named: the settings import this package, and need none
    of its code."""
    if name == "StripeCheckout":
        return importlib.import_module("payments.stripe.checkout").StripeCheckout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
