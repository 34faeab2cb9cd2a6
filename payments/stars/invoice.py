"""Telegram Stars (`XTR`): the bot sells votes with an invoice in the chat (Telegram's terms, §6.2).

Telegram tells us of a payment in the chat itself (a `successful_payment` message through the bot's
webhook, whose secret header the webhook checked); the bot hands it to the core, which asks this provider
to read it (`verify_callback`). There is no status call per payment: an order nobody paid expires, and a
payment counted is verified later against the bot's list of Star transactions (`list_payments`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from gateway.core.providers import (
    CallbackRejected,
    CallbackVerdict,
    Collection,
    InboundCallback,
    PaymentError,
    PaymentListing,
    PaymentState,
    ProviderCharge,
    StartResult,
    StatusResult,
)
from payments.stars.listing import (
    CURRENCY,
    PAGE_SIZE,
    PAGE_TIMEOUT_SECONDS,
    PAGES_PER_READ,
    ListingRead,
    incoming_payment,
)

NAME = "stars"
TELEGRAM_API = "https://api.telegram.org"
# Telegram keeps an invoice payable, but a vote waits no longer than this for its payment.
PAYMENT_WINDOW = timedelta(minutes=15)
ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"
# Telegram's list of transactions may lag the webhook's word by a little (STARS_VERIFY_WITHIN_SECONDS).
LISTING_LAG = timedelta(minutes=5)


class StarsInvoices:
    """Stars payments through the Bot API (`sendInvoice`, `refundStarPayment`)."""

    name = NAME
    redirects = True  # the invoice goes out at once, in the chat: no prompt to push later
    payment_window = PAYMENT_WINDOW
    status_calls_per_second: float | None = None
    read_within = timedelta(seconds=PAGES_PER_READ * PAGE_TIMEOUT_SECONDS)  # list_payments' own deadline
    # The bot's webhook secret (the only proof an update is Telegram's): never kept with a provider event.
    secret_headers = frozenset({"x-telegram-bot-api-secret-token"})

    def __init__(self, http: httpx.AsyncClient, token: str, api_base: str | None = None, *,
                 lags_by: timedelta = LISTING_LAG) -> None:
        self.http = http
        self.lags_by = lags_by
        self.token = token
        self.api_base = (api_base or TELEGRAM_API).rstrip("/")

    async def call(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        try:
            response = await self.http.post(f"{self.api_base}/bot{self.token}/{method}", json=params,
                                            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PaymentError(NAME, "unreachable", f"Telegram did not answer {method}.", retryable=True) from exc
        if not answer.get("ok"):
            description = str(answer.get("description", "error"))
            raise PaymentError(NAME, description, description, retryable=response.status_code >= 500,
                               status=response.status_code)
        return answer.get("result")

    async def start(self, collection: Collection) -> StartResult:
        """Send the invoice to the voter's chat: one price in Stars, payload = our payment reference."""
        if not collection.voter_ref:
            raise PaymentError(NAME, "no_chat", "A Stars invoice needs the voter's Telegram chat.")
        message = await self.call("sendInvoice", {
            "chat_id": int(collection.voter_ref),
            "title": collection.description[:32].rstrip(" -"),
            "description": collection.description[:255],
            "payload": str(collection.reference),
            "provider_token": "",
            "currency": CURRENCY,
            "prices": [{"label": collection.description[:32].rstrip(" -"), "amount": collection.amount}],
        })
        return StartResult(provider_data={"invoice_message_id": message.get("message_id")})

    async def fetch_status(self, collection: Collection) -> StatusResult:
        """Telegram has no per-payment status: a paid order was confirmed from its message."""
        return StatusResult(PaymentState.PENDING, raw_status="no successful_payment yet")

    def chat_payment_body(self, charge_id: str, amount: int, currency: str, payload: str) -> bytes:
        """The bot's `successful_payment`, as `verify_callback` reads it."""
        return json.dumps({"telegram_payment_charge_id": charge_id, "total_amount": amount, "currency": currency,
                           "invoice_payload": payload}).encode()

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """Read the `successful_payment` the bot passed on (it came through the secret-checked webhook).

        The webhook's secret is Telegram's only authentication, so the payment counts at once and is
        verified later against `getStarTransactions` (`list_payments`), as MTN's callbacks are."""
        try:
            payment = json.loads(callback.body)
            charge = str(payment["telegram_payment_charge_id"])
            amount, currency = int(payment["total_amount"]), str(payment["currency"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(NAME, "unreadable", "Not a successful_payment.") from exc
        if collection is None or str(collection.reference) != payment.get("invoice_payload"):
            raise CallbackRejected(NAME, "unknown_payload", "The payment names no order of ours.")
        status = StatusResult(PaymentState.SUCCESSFUL, amount, currency, charge, raw_status="successful_payment")
        return CallbackVerdict(collection.order_id, "successful_payment", event_id=charge, status=status,
                               verify_later=True)

    async def refund(self, collection: Collection) -> StatusResult:
        """Give the Stars back (`refundStarPayment`); a charge refunded before counts as refunded."""
        if not collection.voter_ref or not collection.provider_txn_id:
            raise PaymentError(NAME, "no_charge", "This order has no Telegram charge to refund.")
        try:
            await self.call("refundStarPayment", {"user_id": int(collection.voter_ref),
                                                  "telegram_payment_charge_id": collection.provider_txn_id})
        except PaymentError as exc:
            if ALREADY_REFUNDED not in exc.code:
                raise
        return StatusResult(PaymentState.REFUNDED, collection.amount, collection.currency,
                            collection.provider_txn_id, raw_status="refunded")

    async def transaction_page(self, offset: int, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """One page of the bot's Star transactions, newest first (`payments.stars.listing`)."""
        page = await self.call("getStarTransactions", {"offset": offset, "limit": limit}, PAGE_TIMEOUT_SECONDS)
        return list((page or {}).get("transactions") or [])

    async def charges_between(self, start: datetime, end: datetime) -> list[ProviderCharge]:
        """Our invoices' payments listed in [start, end), newest first, pages read until one goes back past `start`
        (the money check's read of a day: `payments.stars.listing`)."""
        charges, since, until = [], start.timestamp(), end.timestamp()
        for page_number in range(PAGES_PER_READ * 10):
            page = await self.transaction_page(page_number * PAGE_SIZE)
            for transaction in page:
                payment, date = incoming_payment(transaction), int(transaction.get("date") or 0)
                if payment is not None and since <= date < until:
                    charges.append(ProviderCharge(payment.charge_id, None, payment.amount, CURRENCY,
                                                  reference=payment.payload))
            if len(page) < PAGE_SIZE or int(page[-1].get("date") or 0) < since:
                return charges
        raise PaymentError(NAME, "list_too_long", "Telegram's list of the day is longer than one read takes.",
                           retryable=True)

    async def list_payments(self, wanted: frozenset[str], since: datetime) -> PaymentListing:
        """The charges in `wanted` as Telegram lists them, from one read of the list back to `since`
        (`payments.stars.listing`): what a verification pass of every counted Stars payment needs."""
        read = ListingRead(wanted, int(since.timestamp()))
        try:  # pages slow to come (429s, time-outs) end the read by `read_within`, the claim's lease
            async with asyncio.timeout(self.read_within.total_seconds()):
                for page_number in range(PAGES_PER_READ):
                    read.take(await self.transaction_page(page_number * PAGE_SIZE))
                    if read.complete:
                        break
        except TimeoutError as exc:
            raise PaymentError(NAME, "timeout", "Telegram's list did not come within "
                               f"{self.read_within.total_seconds():g} s.", retryable=True) from exc
        return read.listing()
