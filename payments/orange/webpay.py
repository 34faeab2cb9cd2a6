"""Orange Money WebPay: the payer is sent to Orange's page; the notification carries a token we
compare with the one Orange gave us, and the payment is then confirmed with `transactionstatus`.

Orange refuses an `order_id` it has seen (a 4xx: 409 in our sandbox) and answers status questions
only with the page's `pay_token`. So each start opens its page under an order id of its own,
`{reference.hex}-{attempt}` (no longer than the reference alone was), with the attempt kept before
the call and the page kept as soon as Orange answers: a start cut short anywhere is followed by one
that opens a new page, and every page Orange gave us stays checkable. Orders started before (one
page, order id = our reference) keep working.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

import httpx

from gateway.core.money import to_major_string
from gateway.core.providers import (
    CallbackRejected,
    CallbackVerdict,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
    RefundUnsupported,
    StartResult,
    StatusResult,
)
from gateway.kit.paced_turns import PacedTurns
from payments.answers import json_object, json_object_or_empty, parsed_object, required_text, text_of
from payments.orange.oauth import ClientCredentialsToken
from payments.orange.request_cap import ORANGE_CAP, REQUESTS_PER_SECOND, RESEND_DELAYS
from payments.paced_requests import PacedRequests

NAME = "orange"
STATES = {"SUCCESS": PaymentState.SUCCESSFUL, "FAILED": PaymentState.FAILED, "EXPIRED": PaymentState.EXPIRED,
          "INITIATED": PaymentState.PENDING, "PENDING": PaymentState.PENDING}


@dataclass(frozen=True)
class WebPayPage:
    """A payment page Orange opened for one start of an order."""

    order_id: str  # what Orange knows it by
    pay_token: str
    notif_token: str

    def kept(self) -> dict[str, str]:
        return {"order_id": self.order_id, "pay_token": self.pay_token, "notif_token": self.notif_token}


def known_pages(collection: Collection) -> list[WebPayPage]:
    """The pages Orange opened for this order that we know of, oldest first."""
    data = collection.provider_data
    pages = data.get("pages")
    if isinstance(pages, list):
        return [WebPayPage(str(page["order_id"]), str(page["pay_token"]), str(page["notif_token"]))
                for page in pages if isinstance(page, dict) and {"order_id", "pay_token", "notif_token"} <= set(page)]
    if data.get("pay_token"):  # started before pages were kept: one page, under our reference
        return [WebPayPage(str(collection.reference), str(data["pay_token"]), str(data.get("notif_token", "")))]
    return []


def attempts_begun(collection: Collection) -> int:
    attempt = collection.provider_data.get("attempt", 0)
    return attempt if isinstance(attempt, int) else 0


def may_have_unknown_page(collection: Collection) -> bool:
    """A start may have opened a page whose answer never reached us (lost, or the process died first)."""
    pages = known_pages(collection)
    return not pages or attempts_begun(collection) > len(pages)


@dataclass(frozen=True)
class WebPayCredentials:
    base_url: str
    token_url: str
    client_id: str
    client_secret: str
    merchant_key: str
    country: str  # dev, cm, ci, …


class OrangeWebPay:
    name = NAME
    redirects = True
    payment_window = timedelta(minutes=15)  # the payment page stays usable about ten minutes
    status_calls_per_second: float | None = None  # Orange's cap is on every request: `PacedRequests` keeps it

    def __init__(self, http: httpx.AsyncClient, credentials: WebPayCredentials, public_base_url: str, *,
                 turns: PacedTurns | None = None, requests_per_second: float | None = REQUESTS_PER_SECOND,
                 resend_delays: tuple[float, ...] = RESEND_DELAYS) -> None:
        self._requests = PacedRequests(http, credentials.client_id, ORANGE_CAP, turns=turns,
                                       per_second=requests_per_second, resend_delays=resend_delays)
        self._creds = credentials
        self._public = public_base_url.rstrip("/")
        self._token = ClientCredentialsToken(self._requests, NAME, credentials.token_url, credentials.client_id,
                                             credentials.client_secret)

    def _api(self, action: str) -> str:
        return f"{self._creds.base_url.rstrip('/')}/orange-money-webpay/{self._creds.country}/v1/{action}"

    def _currency(self, currency: str) -> str:
        # Orange's dev environment takes only its test currency, "OUV"; live countries take XAF/XOF.
        return "OUV" if self._creds.country == "dev" else currency

    async def start(self, collection: Collection) -> StartResult:
        """Open a new page under this attempt's own order id; see the module's docstring."""
        attempt = attempts_begun(collection) + 1
        if collection.remember is not None:  # committed before Orange sees this order id: never reused
            await collection.remember({"attempt": attempt})
        order_id = f"{collection.reference.hex}-{attempt}"
        order_page = f"{self._public}/orders/{collection.order_id}"
        body = {
            "merchant_key": self._creds.merchant_key,
            "currency": self._currency(collection.currency),
            "order_id": order_id,
            "amount": float(to_major_string(collection.amount, collection.currency)),
            "return_url": f"{order_page}?from=orange",
            "cancel_url": f"{order_page}?cancelled=1",
            "notif_url": f"{self._public}/payments/orange/notify/{collection.order_id}",
            "lang": "fr",
            "reference": collection.description[:64],
        }
        data = await self._post(self._api("webpayment"), body, expect=201)
        url, pay_token, notif_token = required_text(NAME, data, "payment_url", "pay_token", "notif_token")
        pages = [*known_pages(collection), WebPayPage(order_id, pay_token, notif_token)]
        kept = {"attempt": attempt, "pages": [page.kept() for page in pages]}
        if collection.remember is not None:  # a start cut short after this still has its page checked
            await collection.remember(kept)
        return StartResult(redirect_url=url, provider_data=kept)

    async def fetch_status(self, collection: Collection) -> StatusResult:
        """The latest page's status, unless an earlier page of the order was paid."""
        pages = known_pages(collection)
        if not pages:
            raise CollectionNotFound(NAME, "not_started", "No Orange payment page was opened for this order.")
        latest = await self._page_status(collection, pages[-1])
        if latest.state is PaymentState.SUCCESSFUL:
            return latest
        for page in reversed(pages[:-1]):  # opened by a start cut short: nobody was sent there, but check
            try:
                earlier = await self._page_status(collection, page)
            except PaymentError as exc:
                if exc.status != 404:
                    raise
                continue
            if earlier.state is PaymentState.SUCCESSFUL:
                return earlier
        return latest

    async def _page_status(self, collection: Collection, page: WebPayPage) -> StatusResult:
        body = {"order_id": page.order_id,
                "amount": float(to_major_string(collection.amount, collection.currency)), "pay_token": page.pay_token}
        data = await self._post(self._api("transactionstatus"), body, expect=(200, 201), enquiry=True)
        raw = str(data.get("status", "")).upper()
        # transactionstatus answers for the order_id, amount and pay_token we asked about; it does not echo
        # them, so a SUCCESS is a success for this order's own amount.
        return StatusResult(state=STATES.get(raw, PaymentState.PENDING), amount=collection.amount,
                            currency=collection.currency, provider_txn_id=text_of(data.get("txnid")),
                            reason=None if raw in ("SUCCESS", "PENDING", "INITIATED") else raw, raw_status=raw)

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """Genuine if it carries the notif_token of one of the order's pages (a per-payment secret only Orange
        and we know): a SUCCESS counts at once and is verified by a status call later (`proven_success`).
        When a start may have opened a page we never learned of, a token we do not know may still be Orange's:
        the notification is kept as unverified (never proof: only a status check counts a vote), not refused."""
        data = parsed_object(callback.body)
        if data is None or "notif_token" not in data:
            raise CallbackRejected(NAME, "bad_notification", "Not an Orange WebPay notification.")
        if collection is None:
            raise CallbackRejected(NAME, "bad_notif_token", "The notification token does not match this order.")
        token = str(data["notif_token"]).encode("utf-8", "replace")  # bytes: compare_digest refuses non-ASCII str
        kind = f"notification.{str(data.get('status'))[:40].lower()}"
        if any(page.notif_token and hmac.compare_digest(token, page.notif_token.encode())
               for page in known_pages(collection)):
            return CallbackVerdict(order_id=callback.order_id, kind=kind, vouched=True,
                                   **proven_success(data, collection))
        if may_have_unknown_page(collection):
            return CallbackVerdict(order_id=callback.order_id, kind=f"{kind}.unverified")
        raise CallbackRejected(NAME, "bad_notif_token", "The notification token does not match this order.")

    async def refund(self, collection: Collection) -> StatusResult:
        raise RefundUnsupported(NAME, "refund_unsupported", "Orange Money payments are refunded by hand.")

    async def _post(self, url: str, body: dict[str, Any], expect: int | tuple[int, ...],
                    enquiry: bool = False) -> dict[str, Any]:
        """POSTed with the token; `enquiry`: a status check, on the enquiries' share of the application's turns."""
        expected = (expect,) if isinstance(expect, int) else expect
        stale: str | None = None
        for _ in range(2):
            token = await self._token.get(stale)
            try:
                response = await self._requests.request("POST", url, json=body, enquiry=enquiry, headers={
                    "Authorization": f"Bearer {token}", "Accept": "application/json"})
            except httpx.TransportError as exc:
                raise PaymentError(NAME, "unreachable", f"Orange did not answer: {exc!r}", retryable=True) from exc
            if response.status_code != 401:
                break
            stale = token
        if response.status_code in expected:
            return json_object(NAME, response)
        return _raise(response)


def proven_success(data: dict[str, Any], collection: Collection) -> dict[str, Any]:
    """A genuine notification saying SUCCESS, as the verdict's proof (`status`, `verify_later`); nothing for
    any other (a status check decides). Orange's notification names no amount: its token is that of a page
    opened for this order's amount. One that names another amount proves nothing (a status check decides)."""
    if str(data.get("status", "")).upper() != "SUCCESS":
        return {}
    if data.get("amount") is not None and str(data["amount"]) not in (
            to_major_string(collection.amount, collection.currency), str(float(to_major_string(
                collection.amount, collection.currency)))):
        return {}
    status = StatusResult(state=PaymentState.SUCCESSFUL, amount=collection.amount, currency=collection.currency,
                          provider_txn_id=text_of(data.get("txnid")), raw_status="SUCCESS")
    return {"status": status, "verify_later": True}


def _raise(response: httpx.Response) -> NoReturn:
    data = json_object_or_empty(response)
    message = str(data.get("message") or data.get("description") or response.reason_phrase)
    code = str(data.get("code") or f"http_{response.status_code}")
    raise PaymentError(NAME, code, message, retryable=response.status_code >= 500, status=response.status_code)
