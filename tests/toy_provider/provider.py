"""Toy Money: a mobile-money provider of the tests' own, plugged in as any provider is (`TOY`, added to the app's
provider list by one line). It prompts the payer's phone, calls back on the URL it was given for the order with a
signed body, and pays wallets by a transfer of its own when it declares payouts. Its books are in memory: the test
plays the payer who approves, and reads what was paid out.

The vote core, the channels and the admin area know nothing of it but what it declares."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from gateway.core.providers import (
    CallbackRejected,
    CallbackVerdict,
    Capability,
    Collection,
    CollectionNotFound,
    InboundCallback,
    OutgoingPayout,
    PaymentState,
    RefundUnsupported,
    StartResult,
    StatusResult,
)
from gateway.kit.provider_parts import Implementations, ProviderParts, ProviderResources
from gateway.kit.settings import ServiceSettings
from payments.callbacks import answer_callback, order_id_from_path

NAME = "toy"
SIGNATURE = "x-toy-signature"
SECRET = b"toy-callback-secret"  # shared with the toy's own server: the body is signed with it


def signed(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


@dataclass
class ToyMoney:
    """The toy's API and its books: each prompt it was asked for, and each wallet it paid."""

    name: str = NAME
    redirects: bool = False  # a prompt on the payer's phone
    payment_window: timedelta = timedelta(minutes=5)
    status_calls_per_second: float | None = None
    prompts: dict[uuid.UUID, Collection] = field(default_factory=dict)  # by our payment reference
    paid: dict[uuid.UUID, str] = field(default_factory=dict)  # reference -> its transaction id
    transfers: dict[uuid.UUID, OutgoingPayout] = field(default_factory=dict)

    async def start(self, collection: Collection) -> StartResult:
        self.prompts[collection.reference] = collection
        return StartResult()

    async def fetch_status(self, collection: Collection) -> StatusResult:
        if collection.reference not in self.prompts:
            raise CollectionNotFound(NAME, "not_found", "No prompt under this reference.")
        txn = self.paid.get(collection.reference)
        return (StatusResult(PaymentState.SUCCESSFUL, collection.amount, collection.currency, txn, raw_status="PAID")
                if txn else StatusResult(PaymentState.PENDING, raw_status="WAITING"))

    def approve(self, order_id: uuid.UUID) -> tuple[str, bytes, dict[str, str]]:
        """The payer approves the prompt of `order_id`: the callback the toy's server sends (path, body, headers)."""
        collection = next(c for c in self.prompts.values() if c.order_id == order_id)
        txn = self.paid.setdefault(collection.reference, f"toy-{uuid.uuid4().hex[:12]}")
        body = json.dumps({"reference": str(collection.reference), "status": "PAID", "amount": collection.amount,
                           "currency": collection.currency, "transaction": txn}).encode()
        return f"/payments/toy/callback/{order_id}", body, {SIGNATURE: signed(body)}

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        if not hmac.compare_digest(signed(callback.body), callback.headers.get(SIGNATURE, "")):
            raise CallbackRejected(NAME, "bad_signature", "This callback is not signed by Toy Money.")
        data = json.loads(callback.body)
        if collection is None or data["reference"] != str(collection.reference):
            raise CallbackRejected(NAME, "unknown_reference", "Toy Money was asked for no such payment.")
        status = StatusResult(PaymentState.SUCCESSFUL if data["status"] == "PAID" else PaymentState.FAILED,
                              int(data["amount"]), str(data["currency"]), str(data["transaction"]),
                              raw_status=str(data["status"]))
        return CallbackVerdict(callback.order_id, "payment", event_id=str(data["transaction"]), status=status)

    async def refund(self, collection: Collection) -> StatusResult:
        raise RefundUnsupported(NAME, "refund_unsupported", "Toy Money refunds by hand.")

    async def send_payout(self, payout: OutgoingPayout) -> None:
        self.transfers.setdefault(payout.reference, payout)

    async def payout_status(self, payout: OutgoingPayout) -> StatusResult:
        sent = self.transfers.get(payout.reference)
        if sent is None:
            raise CollectionNotFound(NAME, "not_found", "No transfer under this reference.")
        return StatusResult(PaymentState.SUCCESSFUL, sent.amount, sent.currency, f"toy-out-{payout.reference.hex[:8]}")


def toy_parts(*, payouts: bool) -> ProviderParts[ServiceSettings]:
    """The toy's parts: a prompt on the phone, and payouts by its own API where it declares them."""

    def build(settings: ServiceSettings, resources: ProviderResources) -> Implementations:
        toy = ToyMoney()
        return Implementations.one(toy, payouts=toy if payouts else None)

    async def callback(request: web.Request) -> web.Response:
        return await answer_callback(request, NAME, order_id_from_path(request))

    def routes(app: web.Application) -> None:
        app.router.add_post("/payments/toy/callback/{order_id}", callback)

    declared = {Capability.PHONE_PROMPT, *((Capability.PAYOUTS,) if payouts else ())}
    return ProviderParts[ServiceSettings](NAME, "Toy Money", frozenset(declared), build, routes=routes)


TOY = toy_parts(payouts=True)
