"""The Stripe Checkout provider's test data, for the test_stripe_* modules: its keys and address, one order's
collection, Stripe's session and error bodies, the form a request sent, and a clock to move."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any
from urllib.parse import parse_qsl

import httpx

from gateway.core.providers import Collection

API = "https://stripe.test"
SECRET_KEY = "sk_test_ballot"
WEBHOOK_SECRET = "whsec_ballot_test"
ORDER_ID = uuid.UUID("0b5f1c8e-6a51-4c5e-9a43-3f1d2b7c9e01")
REFERENCE = uuid.UUID("9d0e8f7a-1b2c-4d3e-8f5a-6b7c8d9e0f12")
WINDOW_START = 1_750_000_500  # a multiple of 900: the start of a 15-minute expiry window
SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_1"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def collection(**changes: Any) -> Collection:
    base = Collection(order_id=ORDER_ID, reference=REFERENCE, amount=500, currency="XAF", msisdn=None,
                      description="5 votes for Amina - Miss Cameroun 2025", channel="web",
                      provider_data={"session_id": "cs_test_1"})
    return dataclasses.replace(base, **changes)


def session(**fields: Any) -> dict[str, Any]:
    return {"id": "cs_test_1", "object": "checkout.session", "url": SESSION_URL, "status": "open",
            "payment_status": "unpaid", "amount_total": 500, "currency": "xaf", "payment_intent": None,
            "client_reference_id": str(ORDER_ID),
            "metadata": {"order_id": str(ORDER_ID), "reference": str(REFERENCE)}, **fields}


def stripe_error(status: int, message: str, *, code: str | None = None,
                 kind: str = "invalid_request_error") -> httpx.Response:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return httpx.Response(status, json={"error": error})


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))
