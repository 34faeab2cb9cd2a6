"""Card votes through the app with Stripe faked at the wire, for the test_stripe_flow_* modules and the admin
area's refunds: Checkout sessions, signed webhooks, a vote paid by card, a refunded charge."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import respx
from aiohttp.test_utils import TestClient

from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.factories import make_contest

SECRET = "whsec_test_secret"
PAY_URL = "https://checkout.stripe.test/c/pay/cs_test_1"


def checkout_session(order_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": "cs_test_1", "object": "checkout.session", "url": PAY_URL, "status": "open",
            "payment_status": "unpaid", "amount_total": 500, "currency": "xaf", "payment_intent": None,
            "client_reference_id": order_id, "metadata": {"order_id": order_id}, **fields}


def webhook(kind: str, obj: dict[str, Any], event_id: str, *, secret: str = SECRET,
            timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": event_id, "object": "event", "type": kind, "created": int(time.time()),
                       "livemode": False, "data": {"object": obj}}).encode()
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


async def card_vote(client: TestClient, stripe_wire: respx.Router, quantity: int = 5) -> str:
    created: dict[str, str] = {}

    def create(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        created["order_id"] = form["client_reference_id"]
        return httpx.Response(200, json=checkout_session(form["client_reference_id"]))

    stripe_wire.post("/v1/checkout/sessions").mock(side_effect=create)
    response = await client.post("/api/v1/contests/gala/votes",
                                 json={"candidate": "03", "quantity": quantity, "provider": "stripe"})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["next"] == {"action": "redirect", "message": "Complete the payment on the provider's page.",
                            "url": PAY_URL, "approval": None}  # a page, not a prompt to approve
    assert body["order"]["id"] == created["order_id"]
    return created["order_id"]


async def post_webhook(client: TestClient, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/payments/stripe/webhook", data=body, headers=headers)
    return response.status, await response.json()


async def paid_by_card(client: TestClient, sessions: Sessions, stripe_wire: respx.Router,
                       intent: str = "pi_9") -> tuple[Contest, str]:
    """A contest and a 5-vote card order paid through Checkout."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(client, stripe_wire)
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent=intent)
    await post_webhook(client, *webhook("checkout.session.completed", paid, "evt_1"))
    return contest, order_id


def refunded_charge(amount_refunded: int, intent: str = "pi_9", currency: str = "xaf",
                    order_id: str | None = None) -> dict[str, Any]:
    """Stripe's charge object in charge.refunded for that 500 XAF payment (with the payment intent's
    metadata, which Stripe copies onto the charge, when `order_id` is given)."""
    return {"id": "ch_1", "object": "charge", "payment_intent": intent, "amount": 500,
            "amount_refunded": amount_refunded, "currency": currency, "refunded": amount_refunded >= 500,
            "metadata": {"order_id": order_id} if order_id else {}}
