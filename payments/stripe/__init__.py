"""Stripe Checkout: card payments on Stripe's hosted page, proven by signed webhooks."""

from payments.stripe.checkout import StripeCheckout

__all__ = ["StripeCheckout"]
