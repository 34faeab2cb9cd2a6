"""Stripe Checkout: the payer pays on Stripe's hosted page; a signed webhook or a session GET proves it.

Only the SDK's `_async` methods are used, over httpx, so tests fake Stripe at the wire with respx.
Amounts: our integers are the currency's minor units, which is what Stripe takes for every currency
we use. XAF and XOF are zero-decimal (500 means 500 francs), so the integer goes through unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import stripe

from gateway.core.providers import (
    CallbackRejected,
    CallbackVerdict,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentRisk,
    PaymentState,
    ProviderCharge,
    StartResult,
    StatusResult,
)
from payments.stripe import NAME
from payments.stripe.charges import charge_of

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

log = logging.getLogger(__name__)
SESSION_TTL_SECONDS = 30 * 60  # Stripe's minimum for a Checkout Session's expires_at
EXPIRY_MARGIN_SECONDS = 60  # clock skew and latency: Stripe refuses an expires_at under 30 minutes away
EXPIRY_WINDOW_SECONDS = 15 * 60  # expires_at is rounded up to this, so retries send identical parameters
WEBHOOK_TOLERANCE_SECONDS = 300
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
AMOUNT_TOO_SMALL = "Card payments need a larger amount: choose more votes."
REFUND_STATES = {"succeeded": PaymentState.REFUNDED, "pending": PaymentState.PENDING,
                 "requires_action": PaymentState.PENDING, "failed": PaymentState.FAILED,
                 "canceled": PaymentState.FAILED}


class _ContentHTTPXClient(stripe.HTTPXClient):
    """stripe's HTTPXClient passes its form-encoded body as `data=<str>`, which httpx deprecates with a
    DeprecationWarning on every POST; send it as `content=`, which is what httpx does with it anyway.
    (This overrides a private SDK method: if it is ever renamed, the warning comes back and tests fail.)"""

    def _get_request_args_kwargs(self, method: str, url: str, headers: Mapping[str, str],
                                 post_data: Any) -> list[Any]:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if isinstance(data, str | bytes):
            kwargs["content"] = data
        elif data:
            kwargs["data"] = data
        return [args, kwargs]


def checkout_expiry(now: float) -> int:
    """expires_at for a session created at `now`: 31-46 minutes away, the same for every `now` in one window.

    Stripe replays an idempotent request only if its parameters are identical, so expires_at must not move
    with every retry under the same idempotency key.
    """
    window_end = (int(now) // EXPIRY_WINDOW_SECONDS + 1) * EXPIRY_WINDOW_SECONDS
    return window_end + SESSION_TTL_SECONDS + EXPIRY_MARGIN_SECONDS


class StripeCheckout:
    """The Stripe Checkout provider; owns its HTTP client, so call `aclose()` when done."""

    name = NAME
    redirects = True  # the payer pays on Stripe's hosted Checkout page
    # A session stays payable until its expires_at, 31-46 minutes after it was created.
    payment_window = timedelta(seconds=SESSION_TTL_SECONDS + EXPIRY_WINDOW_SECONDS + 4 * EXPIRY_MARGIN_SECONDS)
    status_calls_per_second: float | None = None  # no published cap

    def __init__(self, secret_key: str, webhook_secret: str, public_base_url: str, api_base: str | None = None,
                 *, max_network_retries: int = 1, clock: Callable[[], float] = time.time) -> None:
        # HTTPXClient always opens its own httpx.AsyncClient (it cannot adopt one): we close it in aclose().
        self._http = _ContentHTTPXClient(timeout=TIMEOUT)
        self._client = stripe.StripeClient(
            secret_key,
            http_client=self._http,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=max_network_retries,  # the SDK's own quick retry, with our idempotency key
        )
        self._webhook_secret = webhook_secret
        self._public_base_url = public_base_url.rstrip("/")
        self._clock = clock

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # the SDK leaves this one unannotated

    async def start(self, collection: Collection) -> StartResult:
        """Create the order's Checkout Session (or get the same one back on a retry) and send the payer to it."""
        now = self._clock()
        try:
            try:
                session = await self._create_session(collection, checkout_expiry(now))
            except stripe.IdempotencyError:
                # A retry that crossed into the next expiry window: the first attempt got through with the
                # previous window's expires_at, so send exactly that and Stripe replays the first session.
                session = await self._create_session(collection, checkout_expiry(now - EXPIRY_WINDOW_SECONDS))
        except stripe.InvalidRequestError as exc:
            if exc.code == "amount_too_small":
                raise PaymentError(NAME, "amount_too_small", AMOUNT_TOO_SMALL, status=exc.http_status) from exc
            raise payment_error(exc) from exc
        except stripe.StripeError as exc:
            raise payment_error(exc) from exc
        return StartResult(redirect_url=session.url, provider_data={"session_id": session.id})

    async def _create_session(self, collection: Collection, expires_at: int) -> stripe.checkout.Session:
        metadata = {"order_id": str(collection.order_id), "reference": str(collection.reference)}
        order_url = f"{self._public_base_url}/orders/{collection.order_id}"
        params: SessionCreateParams = {
            "mode": "payment",
            # The whole order is one line (the vote count is in the description). unit_amount is in the
            # currency's minor units; XAF/XOF are zero-decimal, so 500 is 500 francs, passed as is.
            "line_items": [{
                "quantity": 1,
                "price_data": {"currency": collection.currency.lower(), "unit_amount": collection.amount,
                               "product_data": {"name": collection.description}},
            }],
            "client_reference_id": str(collection.order_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": f"{order_url}?from=stripe",
            "cancel_url": f"{order_url}?cancelled=1",
            "expires_at": expires_at,
        }
        return await self._client.v1.checkout.sessions.create_async(
            params,
            options={"idempotency_key": f"checkout-{collection.reference}"},
        )

    async def fetch_status(self, collection: Collection) -> StatusResult:
        """Stripe's current word on the order's Checkout Session."""
        session_id = collection.provider_data.get("session_id")
        if not session_id:
            raise CollectionNotFound(NAME, "no_session", "No Checkout Session was created for this order.")
        try:
            # The latest charge comes along, so a paid session whose money went back is seen as refunded.
            session = await self._client.v1.checkout.sessions.retrieve_async(
                str(session_id), {"expand": ["payment_intent.latest_charge"]})
        except stripe.StripeError as exc:
            if exc.http_status == 404:
                raise CollectionNotFound(NAME, exc.code or "resource_missing", _message(exc), status=404) from exc
            raise payment_error(exc) from exc
        return session_status(session.to_dict())

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """Check the Stripe-Signature HMAC and timestamp; a verified event is itself proof of what it says."""
        signature = header(callback.headers, "Stripe-Signature")
        try:
            event = self._client.construct_event(callback.body, signature, self._webhook_secret,
                                                 tolerance=WEBHOOK_TOLERANCE_SECONDS)
        except (stripe.SignatureVerificationError, ValueError) as exc:  # ValueError: body not UTF-8 JSON
            raise CallbackRejected(NAME, "bad_signature", _message(exc)) from exc
        # The SDK bounds only the past: an event stamped ahead of the clock it uses (time.time) is refused too.
        if signed_at(signature or "") > time.time() + WEBHOOK_TOLERANCE_SECONDS:
            raise CallbackRejected(NAME, "bad_signature", "Timestamp outside the tolerance zone (in the future).")
        data = event.to_dict()
        return await self.with_risk(event_verdict(data), session_of(data))

    async def with_risk(self, verdict: CallbackVerdict, session_id: str | None) -> CallbackVerdict:
        """A paid session's event carries no charge: Radar's word on it comes from the session with its charge (one
        read, within Stripe's limits: card payments are the fewest). Without it the payment counts as it is."""
        status = verdict.status
        if status is None or status.state is not PaymentState.SUCCESSFUL or status.risk or not session_id:
            return verdict
        try:
            session = await self._client.v1.checkout.sessions.retrieve_async(
                session_id, {"expand": ["payment_intent.latest_charge"]})
        except stripe.StripeError as exc:
            log.warning("stripe: no risk level for session %s (%s); counted without it", session_id,
                        payment_error(exc).code)
            return verdict
        charge = latest_charge(session.to_dict())
        return verdict if charge is None else dataclasses.replace(
            verdict, status=dataclasses.replace(status, risk=risk_of(charge)))

    async def charges_between(self, start: datetime, end: datetime) -> list[ProviderCharge]:
        """Stripe's balance transactions of type `charge` created in [start, end), each with its charge (amount and
        currency as charged, and the metadata naming our order), every page."""
        params: dict[str, Any] = {"created": {"gte": int(start.timestamp()), "lt": int(end.timestamp())},
                                  "type": "charge", "limit": 100, "expand": ["data.source"]}
        charges = []
        try:
            page = await self._client.v1.balance_transactions.list_async(params)  # type: ignore[arg-type]
            async for line in page.auto_paging_iter():
                charges.append(charge_of(line.to_dict()))
        except stripe.StripeError as exc:
            raise payment_error(exc) from exc
        return charges

    async def refund(self, collection: Collection) -> StatusResult:
        """Refund the whole payment intent; the idempotency key makes a repeated call harmless."""
        intent = collection.provider_data.get("payment_intent")
        if not intent:
            raise PaymentError(NAME, "not_paid", "There is no card payment to refund for this order.")
        metadata = {"order_id": str(collection.order_id), "reference": str(collection.reference)}
        try:
            refund = await self._client.v1.refunds.create_async(
                {"payment_intent": str(intent), "metadata": metadata},
                options={"idempotency_key": f"refund-{collection.reference}"},
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == "charge_already_refunded":  # refunded earlier, beyond the idempotency key's 24 h
                return StatusResult(PaymentState.REFUNDED, provider_txn_id=str(intent), raw_status=exc.code)
            raise payment_error(exc) from exc
        except stripe.StripeError as exc:
            raise payment_error(exc) from exc
        data = refund.to_dict()
        return StatusResult(
            state=REFUND_STATES.get(str(data.get("status")), PaymentState.PENDING),
            amount=data.get("amount"),
            currency=_upper(data.get("currency")),
            provider_txn_id=str(intent),
            reason=data.get("failure_reason"),
            raw_status=str(data.get("status") or ""),
        )


def signed_at(signature: str) -> int:
    """The `t=` of a Stripe-Signature header the SDK has verified (so it holds one), read as the SDK reads it."""
    items = [item.split("=", 2) for item in signature.split(",")]
    return int(next(item[1] for item in items if item[0] == "t" and len(item) > 1))


def session_of(event: Mapping[str, Any]) -> str | None:
    """The Checkout Session a `checkout.session.*` event is about."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not str(event.get("type", "")).startswith("checkout.session.") or not isinstance(obj, Mapping):
        return None
    return str(obj["id"]) if obj.get("id") else None


def session_status(session: Mapping[str, Any]) -> StatusResult:
    """A Checkout Session to our state: only payment_status "paid" counts (complete + unpaid is still pending).

    A paid session stays "paid" after a refund: when the session comes with its payment intent's latest
    charge (our status check expands it), any amount refunded makes it REFUNDED, never SUCCESSFUL.
    """
    status, payment_status = session.get("status"), session.get("payment_status")
    raw = f"{status}/{payment_status}"
    if payment_status == "paid":
        charge = latest_charge(session)
        if charge is not None and charge.get("amount_refunded"):
            return refunded_status(charge)
        return paid_status(session, raw)
    if status == "expired":
        return StatusResult(PaymentState.EXPIRED, raw_status=raw)
    return StatusResult(PaymentState.PENDING, raw_status=raw)


def latest_charge(session: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The expanded `payment_intent.latest_charge` of a session (None where it came as a bare id)."""
    intent = session.get("payment_intent")
    charge = intent.get("latest_charge") if isinstance(intent, Mapping) else None
    return charge if isinstance(charge, Mapping) else None


def paid_status(session: Mapping[str, Any], raw: str) -> StatusResult:
    charge = latest_charge(session)
    return StatusResult(PaymentState.SUCCESSFUL, amount=session.get("amount_total"),
                        currency=_upper(session.get("currency")),
                        provider_txn_id=_id(session.get("payment_intent")), raw_status=raw,
                        risk=None if charge is None else risk_of(charge))


def risk_of(charge: Mapping[str, Any]) -> PaymentRisk:
    """Radar's risk level of the charge and its card's country: signals of the fraud rules
    (gateway.core.fraud.rules)."""
    outcome, details = charge.get("outcome"), charge.get("payment_method_details")
    card = details.get("card") if isinstance(details, Mapping) else None
    level = outcome.get("risk_level") if isinstance(outcome, Mapping) else None
    country = card.get("country") if isinstance(card, Mapping) else None
    return PaymentRisk(provider_risk=str(level) if level else None, card_country=str(country) if country else None)


def event_verdict(event: Mapping[str, Any]) -> CallbackVerdict:
    """A verified event to a verdict; types we do not handle get status None, which the core ignores."""
    kind, event_id = str(event.get("type", "")), event.get("id")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        obj = {}
    if kind.startswith("checkout.session."):
        status = checkout_event_status(kind, obj)
        if status is not None:
            order_id = _order_id(obj.get("client_reference_id")) or _order_id(_metadata(obj).get("order_id"))
            return CallbackVerdict(order_id=order_id, kind=kind, event_id=event_id, status=status)
    if kind == "charge.dispute.created":  # a dispute names the payment intent, not our metadata
        return CallbackVerdict(order_id=None, kind=kind, event_id=event_id, status=StatusResult(
            PaymentState.CHARGED_BACK, amount=obj.get("amount"), currency=_upper(obj.get("currency")),
            provider_txn_id=_id(obj.get("payment_intent")), reason=str(obj.get("reason") or "disputed"),
            raw_status=f"dispute/{obj.get('status')}"))
    if kind == "charge.refunded":
        return CallbackVerdict(order_id=_order_id(_metadata(obj).get("order_id")), kind=kind, event_id=event_id,
                               status=refunded_status(obj))
    return CallbackVerdict(order_id=None, kind=kind, event_id=event_id, status=None)


def checkout_event_status(kind: str, session: Mapping[str, Any]) -> StatusResult | None:
    raw = f"{session.get('status')}/{session.get('payment_status')}"
    if kind == "checkout.session.completed":
        return session_status(session)  # paid, or an async payment method still processing (pending)
    if kind == "checkout.session.async_payment_succeeded":
        return paid_status(session, raw)
    if kind == "checkout.session.async_payment_failed":
        return StatusResult(PaymentState.FAILED, reason="async_payment_failed", raw_status=raw)
    if kind == "checkout.session.expired":
        return StatusResult(PaymentState.EXPIRED, raw_status=raw)
    return None


def refunded_status(charge: Mapping[str, Any]) -> StatusResult:
    """charge.refunded also fires on a partial refund (made by hand): amount says how much went back."""
    return StatusResult(PaymentState.REFUNDED, amount=charge.get("amount_refunded"),
                        currency=_upper(charge.get("currency")), provider_txn_id=_id(charge.get("payment_intent")),
                        raw_status="refunded" if charge.get("refunded") else "partially_refunded")


def payment_error(exc: stripe.StripeError) -> PaymentError:
    """Network failures, 409 (a concurrent request with our key), 429 and 5xx may succeed if sent again."""
    status = exc.http_status
    retryable = status is None or status in (409, 429) or status >= 500
    if isinstance(exc, stripe.APIConnectionError):
        code = "connection_error"
    else:
        code = exc.code or _error_type(exc) or f"http_{status}"
    return PaymentError(NAME, code, _message(exc), retryable=retryable, status=status)


def header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _error_type(exc: stripe.StripeError) -> str | None:
    error = exc.error
    return str(error["type"]) if error is not None and "type" in error else None


def _message(exc: Exception) -> str:
    if isinstance(exc, stripe.StripeError):
        return exc.user_message or type(exc).__name__
    return str(exc) or type(exc).__name__


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _order_id(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _id(value: object) -> str | None:
    """An id field that may come expanded (an object with an id) or as a plain id."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if value else None


def _upper(value: object) -> str | None:
    return str(value).upper() if value else None

