"""Orange Cameroon merchant payment (USSD push): `mp/init` gives a payToken, `mp/pay` sends the
prompt to the payer's phone, `mp/paymentstatus` tells the outcome. Notifications are sometimes
not sent at all, so they are only ever a reason to check the status."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

import httpx

from gateway.core.money import from_major, to_major_string
from gateway.core.providers import (
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
PREFIX = "/omcoreapis/1.0.2/mp"
# "SUCCESSFULL" (sic) is what the API really sends.
STATES = {"SUCCESSFULL": PaymentState.SUCCESSFUL, "SUCCESSFUL": PaymentState.SUCCESSFUL,
          "FAILED": PaymentState.FAILED, "CANCELLED": PaymentState.FAILED, "EXPIRED": PaymentState.EXPIRED,
          "PENDING": PaymentState.PENDING, "INITIATED": PaymentState.PENDING}
CAMEROON = "+237"


@dataclass(frozen=True)
class PushCredentials:
    base_url: str
    consumer_key: str  # Basic auth for /token
    consumer_secret: str
    username: str  # X-AUTH-TOKEN is base64(username:password)
    password: str
    channel_msisdn: str  # the merchant's own Orange Money number, 9 local digits
    pin: str


def local_number(msisdn: str | None) -> str:
    """+2376XXXXXXXX -> 6XXXXXXXX: the API takes the 9 local digits of a Cameroonian number only."""
    if not msisdn or not msisdn.startswith(CAMEROON) or len(msisdn) != len(CAMEROON) + 9:
        raise PaymentError(NAME, "unsupported_number", "Orange Money push works only with a Cameroonian number.")
    return msisdn.removeprefix(CAMEROON)


class OrangePush:
    name = NAME
    redirects = False
    payment_window = timedelta(minutes=10)  # Orange expires an unapproved push after ~7 minutes
    status_calls_per_second: float | None = None  # Orange's cap is on every request: `PacedRequests` keeps it

    def __init__(self, http: httpx.AsyncClient, credentials: PushCredentials, public_base_url: str, *,
                 turns: PacedTurns | None = None, requests_per_second: float | None = REQUESTS_PER_SECOND,
                 resend_delays: tuple[float, ...] = RESEND_DELAYS) -> None:
        self._requests = PacedRequests(http, credentials.consumer_key, ORANGE_CAP, turns=turns,
                                       per_second=requests_per_second, resend_delays=resend_delays)
        self._creds = credentials
        self._public = public_base_url.rstrip("/")
        self._token = ClientCredentialsToken(self._requests, NAME, f"{credentials.base_url.rstrip('/')}/token",
                                             credentials.consumer_key, credentials.consumer_secret)
        auth = f"{credentials.username}:{credentials.password}".encode()
        self._x_auth = base64.b64encode(auth).decode()

    async def start(self, collection: Collection) -> StartResult:
        """init, keep the payToken, then pay. Each init issues a new payToken (there is no reference
        of ours Orange would recognise), so a start that finds a kept token resumes it: it pays
        only if that token never reached the payer, and never pushes a second prompt."""
        kept = collection.provider_data.get("pay_token")
        if kept and await self._resumable_was_pushed(str(kept)):
            return StartResult(provider_data={"pay_token": kept})
        pay_token = str(kept) if kept else await self._init(collection)
        body = {
            "subscriberMsisdn": local_number(collection.msisdn), "channelUserMsisdn": self._creds.channel_msisdn,
            "amount": to_major_string(collection.amount, collection.currency), "description": collection.description,
            "orderId": str(collection.reference), "pin": self._creds.pin, "payToken": pay_token,
            "notifUrl": f"{self._public}/payments/orange/notify/{collection.order_id}",
        }
        try:
            await self._call("POST", f"{PREFIX}/pay", json=body)
        except PaymentError as exc:
            if not exc.retryable:
                raise
            await asyncio.sleep(0.5)  # a lost answer: ask about the same payToken rather than pay again
            if not await self._was_pushed(pay_token):
                raise PaymentError(NAME, "unreachable", "Orange did not confirm the push.", retryable=True) from exc
        return StartResult(provider_data={"pay_token": pay_token})

    async def _init(self, collection: Collection) -> str:
        local_number(collection.msisdn)  # refuse a number Orange Cameroon cannot charge before any call
        init = await self._call("POST", f"{PREFIX}/init")
        record = init.get("data")
        (pay_token,) = required_text(NAME, record if isinstance(record, dict) else {}, "payToken")
        if collection.remember is not None:
            await collection.remember({"pay_token": pay_token})
        return pay_token

    async def _resumable_was_pushed(self, pay_token: str) -> bool:
        """`_was_pushed` for a kept token, where any refusal is retryable: the prompt may be on the
        payer's phone, so an unclear answer must not fail the order (a later start asks again)."""
        try:
            return await self._was_pushed(pay_token)
        except PaymentError as exc:
            if exc.retryable:
                raise
            raise PaymentError(NAME, exc.code, exc.message, retryable=True, status=exc.status) from exc

    async def _was_pushed(self, pay_token: str) -> bool:
        """Whether `pay` went through for this token (an init alone sends nothing to the phone)."""
        try:
            return is_pushed(await self._status(pay_token))
        except CollectionNotFound:
            return False

    async def fetch_status(self, collection: Collection) -> StatusResult:
        pay_token = collection.provider_data.get("pay_token")
        if not pay_token:
            raise CollectionNotFound(NAME, "not_started", "No Orange push was sent for this order.")
        data = await self._status(str(pay_token), enquiry=True)
        if not is_pushed(data):  # kept by a start cut short before `pay`: start it again
            raise CollectionNotFound(NAME, "not_pushed", "The Orange push for this order was never sent.")
        raw = str(data.get("status", "")).upper()
        amount = data.get("amount")
        return StatusResult(
            state=STATES.get(raw, PaymentState.PENDING),
            amount=readable_amount(amount, collection.currency),
            currency=collection.currency if amount is not None else None,
            provider_txn_id=text_of(data.get("txnid")),
            reason=text_of(data.get("confirmtxnmessage")) if raw not in ("SUCCESSFULL", "PENDING") else None,
            raw_status=raw,
        )

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """Not signed: report the claim; only `mp/paymentstatus` can count the vote."""
        data = parsed_object(callback.body)
        claimed = "unparseable" if data is None else str(data.get("status", "unknown")).lower()
        return CallbackVerdict(order_id=callback.order_id, kind=f"push.{claimed}")

    async def refund(self, collection: Collection) -> StatusResult:
        raise RefundUnsupported(NAME, "refund_unsupported", "Orange Money payments are refunded by hand.")

    async def _status(self, pay_token: str, *, enquiry: bool = False) -> dict[str, Any]:
        """The push's record at Orange; `enquiry`: a status check's, on the enquiries' share of the application's
        turns (a start's own, whether its push went out, is on the prompts')."""
        try:
            data = await self._call("GET", f"{PREFIX}/paymentstatus/{pay_token}", enquiry=enquiry)
        except PaymentError as exc:
            if exc.status == 417:  # "no transaction matches this payToken"
                raise CollectionNotFound(NAME, "not_found", exc.message, status=417) from exc
            raise
        if not data.get("data"):
            raise CollectionNotFound(NAME, "not_found", str(data.get("message") or "unknown payToken"))
        if not isinstance(data["data"], dict):
            raise PaymentError(NAME, "unreadable_answer", "Orange's payment status holds no transaction record.",
                               retryable=True)
        return dict(data["data"])

    async def _call(self, method: str, path: str, *, enquiry: bool = False, **kwargs: Any) -> dict[str, Any]:
        url = self._creds.base_url.rstrip("/") + path
        stale: str | None = None
        for _ in range(2):
            token = await self._token.get(stale)
            headers = {"Authorization": f"Bearer {token}", "X-AUTH-TOKEN": self._x_auth}
            try:
                response = await self._requests.request(method, url, enquiry=enquiry, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                raise PaymentError(NAME, "unreachable", f"Orange did not answer: {exc!r}", retryable=True) from exc
            if response.status_code != 401:
                break
            stale = token
        if response.status_code == 200:
            return json_object(NAME, response)
        return _raise(response)


def _raise(response: httpx.Response) -> NoReturn:
    message = str(json_object_or_empty(response).get("message") or response.reason_phrase)
    # Business refusals come back as HTTP 417 with a French message: final, show it as it is.
    code = "refused" if response.status_code == 417 else f"http_{response.status_code}"
    raise PaymentError(NAME, code, message, retryable=response.status_code >= 500, status=response.status_code)


def readable_amount(amount: object, currency: str) -> int | None:
    """Orange's amount in minor units; one we cannot read never matches an order, so it gets flagged."""
    if amount is None:
        return None
    try:
        return from_major(str(amount), currency)
    except ValueError:
        return None


def is_pushed(data: dict[str, Any]) -> bool:
    """Whether `pay` was accepted for this transaction record. Only init ran when it is INITIATED,
    or PENDING with no init status; any decided status means the payer was asked."""
    status = str(data.get("status", "")).upper()
    return not (status == "INITIATED" or (status == "PENDING" and not data.get("inittxnstatus")))
