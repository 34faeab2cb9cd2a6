"""M-Pesa STK Push (Lipa na M-Pesa Online): a prompt on the payer's phone, its query, its unsigned callback.

Daraja's callback is not signed, but it comes on the CallBackURL we gave for the order, which carries a secret
(`payments.mpesa.callback_secret`). A callback with that secret saying ResultCode 0 for the order's prompt
(its CheckoutRequestID) and amount counts at once, and is verified later by the prompt's query. Anything else on
that URL (a failure, another prompt, no amount) asks for the query; a wrong or missing secret is refused.

An STK Push has no reference of ours Daraja would recognise: a prompt whose CheckoutRequestID was kept
(`Collection.remember`) is never pushed again. While another prompt is open on the number Daraja refuses the new
one (errorCode 500.001.1001): a retryable refusal, so the order stays pending and its prompt is sent again later.
Daraja may take the prompt and say the same as its result (ResultCode 1001, on the callback or the query): that
prompt is dead, and its status says to start the order again (`StatusResult.start_again`). A prompt of an earlier
start (`EARLIER_STARTS`: dead, or over unpaid when its payer asked for another) may still be paid late (Daraja reports
1037 prompts debited after their timeout): a success of one on the order's URL, for the order's amount, is the
order's payment as the live prompt's would be, counted by the core's rules (once while the order waits; flagged for
a person once it expired or failed; a second charge, to give back, once another prompt paid it) and verified later by
that prompt's own query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from gateway.core.money import minor_digits
from gateway.core.providers import (
    EARLIER_STARTS,
    CallbackRejected,
    CallbackVerdict,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
    ProviderCharge,
    RefundUnsupported,
    StartResult,
    StatusResult,
)
from payments.answers import json_object, parsed_object, text_of
from payments.mpesa.api import DarajaApi, error_code, error_of, stk_password, timestamp
from payments.mpesa.callback_secret import secret_holds
from payments.mpesa.paths import stk_callback_url
from payments.mpesa.pull_transactions import PullTransactions
from payments.mpesa.request_cap import NAME
from payments.mpesa.results import (
    BEING_PROCESSED,
    PROMPT_PENDING,
    PROMPT_PENDING_TEXT,
    SUBSCRIBER_LOCKED,
    SUCCESS,
    meaning,
)

CURRENCY = "KES"
KENYA = "+254"
CHECKOUT = "checkout_request_id"  # provider_data: the prompt's CheckoutRequestID
ASKED = "amount_asked"  # provider_data: the whole shillings the prompt asked for (its query names no amount)
PAID_PROMPT = "paid_prompt"  # provider_data: a prompt known from its paying callback alone (its CHECKOUT, ASKED)
ACCOUNT_REFERENCE_LENGTH = 12
DESCRIPTION_LENGTH = 13  # TransactionDesc: Daraja truncates or refuses longer ones


class MpesaStkPush:
    name = NAME
    redirects = False
    # Safaricom's prompt gives up after about a minute (1037); the window leaves room for one sent again after
    # an open prompt on the phone (1001) was finished.
    payment_window = timedelta(minutes=5)
    status_calls_per_second: float | None = None  # Daraja's cap is on every request: `PacedRequests` keeps it

    def __init__(self, api: DarajaApi, shortcode: str, passkey: str, public_base_url: str, callback_key: bytes, *,
                 party_b: str | None = None) -> None:
        self._api = api
        self._listing = PullTransactions(api, party_b or shortcode)  # where the payments land
        self._shortcode = shortcode
        self._passkey = passkey
        self._party_b = party_b or shortcode
        self._public = public_base_url.rstrip("/")
        self._callback_key = callback_key

    def callback_url(self, collection: Collection) -> str:
        return stk_callback_url(self._public, self._callback_key, collection.order_id)

    async def start(self, collection: Collection) -> StartResult:
        """Push the prompt, once: a start that finds a kept CheckoutRequestID resumes it."""
        if kept := collection.provider_data.get(CHECKOUT):
            return StartResult(provider_data={CHECKOUT: kept, ASKED: collection.provider_data.get(ASKED)})
        phone, shillings = kenyan_number(collection.msisdn), whole_shillings(collection)
        when = timestamp()
        body = {
            "BusinessShortCode": self._shortcode, "Password": stk_password(self._shortcode, self._passkey, when),
            "Timestamp": when, "TransactionType": "CustomerPayBillOnline", "Amount": shillings,
            "PartyA": phone, "PartyB": self._party_b, "PhoneNumber": phone,
            "CallBackURL": self.callback_url(collection), "AccountReference": account_reference(collection),
            "TransactionDesc": description(collection.description),
        }
        response = await self._api.post("/mpesa/stkpush/v1/processrequest", body)
        if error_code(response) == BEING_PROCESSED:
            raise PaymentError(NAME, PROMPT_PENDING, PROMPT_PENDING_TEXT, retryable=True, status=response.status_code)
        data = json_object(NAME, response) if response.status_code == 200 else {}
        checkout = text_of(data.get("CheckoutRequestID"))
        if response.status_code != 200 or str(data.get("ResponseCode")) != SUCCESS or checkout is None:
            raise error_of(response)
        kept = {CHECKOUT: checkout, ASKED: shillings}
        if collection.remember is not None:
            await collection.remember(kept)
        return StartResult(provider_data=kept)

    async def fetch_status(self, collection: Collection) -> StatusResult:
        """The prompt's query: its ResultCode once decided, errorCode 500.001.1001 while it is open. An order paid
        (`provider_txn_id`) whose live prompt says otherwise, or that has none, may have been paid by an earlier
        prompt's late success, or by the prompt its paying callback named (`PAID_PROMPT`): the first of those its own
        query says paid answers. With no start recorded, the prompt its callback named is the order's."""
        data = collection.provider_data
        live = data if data.get(CHECKOUT) else next(iter(paid_prompt_of(collection)), None)
        status = await self.prompt_status(str(live[CHECKOUT]), asked_amount(live)) if live is not None else None
        if collection.provider_txn_id and (status is None or status.state is not PaymentState.SUCCESSFUL):
            for kept in [*earlier_starts_of(collection), *paid_prompt_of(collection)]:
                if kept is live:
                    continue
                try:
                    paid = await self.prompt_status(str(kept[CHECKOUT]), asked_amount(kept))
                except CollectionNotFound:
                    continue
                if paid.state is PaymentState.SUCCESSFUL:
                    return paid
        if status is None:
            raise CollectionNotFound(NAME, "not_started", "No M-Pesa prompt was sent for this order.")
        return status

    async def prompt_status(self, checkout: str, shillings: int | None) -> StatusResult:
        """One prompt's query; `shillings`: what it asked for (the query names no amount)."""
        when = timestamp()
        response = await self._api.post("/mpesa/stkpushquery/v1/query", {
            "BusinessShortCode": self._shortcode, "Password": stk_password(self._shortcode, self._passkey, when),
            "Timestamp": when, "CheckoutRequestID": checkout}, enquiry=True)
        if error_code(response) == BEING_PROCESSED:
            return StatusResult(state=PaymentState.PENDING, raw_status=BEING_PROCESSED)
        if response.status_code in (400, 404) and "Invalid CheckoutRequestID" in response.text:
            raise CollectionNotFound(NAME, "not_found", "Daraja knows no prompt with this CheckoutRequestID.",
                                     status=response.status_code)
        if response.status_code != 200:
            raise error_of(response)
        data = json_object(NAME, response)
        return result_status(text_of(data.get("ResultCode")) or "", text_of(data.get("ResultDesc")), shillings, None)

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """Daraja does not sign: the URL's secret says the callback is Safaricom's (see the module's docstring)."""
        found = stk_callback(parsed_object(callback.body))
        code = text_of(found.get("ResultCode")) or "unknown"
        checkout = text_of(found.get("CheckoutRequestID"))
        kind = f"stk.{code[:12]}"
        event_id = f"stk:{checkout[:80]}:{code[:12]}" if checkout else None
        asks_check = CallbackVerdict(order_id=callback.order_id, kind=kind, event_id=event_id)
        if collection is None:
            return asks_check  # about no order of ours: kept bounded
        if not secret_holds(self._callback_key, collection.order_id, callback.secret):
            raise CallbackRejected(NAME, "bad_callback_secret", "This callback URL's secret is wrong or missing.")
        asks_check = replace(asks_check, vouched=True)  # Safaricom's own (its URL's secret held): never bounded
        kept = collection.provider_data.get(CHECKOUT)
        # Its URL is this order's alone, so a payment it reports is this order's, even one that beats the start's
        # record of its CheckoutRequestID (Daraja answered, we had not written it down yet), or one of an earlier
        # start's prompt paid late: counted by the core's rules, and queried later (`fetch_status` finds the prompt
        # paid). A prompt the order never had, or a failure: the query decides.
        if code != SUCCESS or checkout is None \
                or (kept is not None and checkout != kept and checkout not in earlier_checkouts(collection)):
            return asks_check
        paid = metadata(found)
        status = result_status(code, text_of(found.get("ResultDesc")), readable_shillings(paid.get("Amount")),
                               text_of(paid.get("MpesaReceiptNumber")))
        if status.amount != collection.amount:
            return asks_check
        # A prompt the order does not know yet (its start not recorded, and perhaps never to be): the order keeps it
        # with the count, under a key of its own that no later start's record replaces, so that the later query asks
        # about the prompt that was paid. Its success is one event for all orders (the event id names the prompt):
        # once settled on its order, it counts nothing on another's URL.
        named = {PAID_PROMPT: {CHECKOUT: checkout, ASKED: readable_shillings(paid.get("Amount"))}} \
            if kept is None and checkout not in earlier_checkouts(collection) else {}
        return CallbackVerdict(order_id=callback.order_id, kind=kind, event_id=event_id, status=status,
                               verify_later=True, keeps=named)

    async def refund(self, collection: Collection) -> StatusResult:
        raise RefundUnsupported(NAME, "refund_unsupported", "M-Pesa payments are given back by a reversal.")

    async def charges_between(self, start: datetime, end: datetime) -> list[ProviderCharge]:
        """The C2B payments into the shortcode (`payments.mpesa.pull_transactions`): the money check's list."""
        return await self._listing.charges_between(start, end)


def result_status(code: str, description: str | None, shillings: int | None, receipt: str | None) -> StatusResult:
    """A ResultCode as our StatusResult; a success's amount is the shillings paid (in cents). An answer without one
    says nothing of the prompt: it may still be open, so the order waits."""
    if not code:
        return StatusResult(state=PaymentState.PENDING, raw_status="unknown")
    means = meaning(code, description)
    amount = None if shillings is None else shillings * int(10 ** minor_digits(CURRENCY))
    success = means.state is PaymentState.SUCCESSFUL
    return StatusResult(state=means.state, amount=amount if success else None,
                        currency=CURRENCY if success and amount is not None else None,
                        provider_txn_id=receipt, reason=means.reason, raw_status=code or "unknown",
                        start_again=code == SUBSCRIBER_LOCKED, final=means.final)


def earlier_starts_of(collection: Collection) -> list[Mapping[str, Any]]:
    """What the order's earlier starts kept, oldest first, those that had a prompt (a CheckoutRequestID)."""
    earlier = collection.provider_data.get(EARLIER_STARTS)
    return [kept for kept in earlier if isinstance(kept, dict) and kept.get(CHECKOUT)] \
        if isinstance(earlier, list) else []


def paid_prompt_of(collection: Collection) -> list[Mapping[str, Any]]:
    """The prompt the order knows from the callback that counted it alone (`PAID_PROMPT`), if any."""
    named = collection.provider_data.get(PAID_PROMPT)
    return [named] if isinstance(named, dict) and named.get(CHECKOUT) else []


def earlier_checkouts(collection: Collection) -> set[str]:
    """The CheckoutRequestIDs of the order's earlier starts: prompts no longer live, which may yet be paid late."""
    return {str(kept[CHECKOUT]) for kept in earlier_starts_of(collection)}


def stk_callback(data: dict[str, Any] | None) -> dict[str, Any]:
    body = (data or {}).get("Body")
    found = body.get("stkCallback") if isinstance(body, dict) else None
    return found if isinstance(found, dict) else {}


def metadata(found: dict[str, Any]) -> dict[str, Any]:
    """CallbackMetadata's items by name (Amount, MpesaReceiptNumber, TransactionDate, PhoneNumber)."""
    items = (found.get("CallbackMetadata") or {}).get("Item") if isinstance(found.get("CallbackMetadata"), dict) else []
    return {str(item.get("Name")): item.get("Value") for item in items or [] if isinstance(item, dict)}


def readable_shillings(value: object) -> int | None:
    """Whole shillings as Daraja writes them (1, 1.0, "1"); anything else None (it never matches an order)."""
    try:
        number = float(str(value))
    except ValueError:
        return None
    return int(number) if number.is_integer() and number > 0 else None


def asked_amount(kept: Mapping[str, Any]) -> int | None:
    """The whole shillings a start's prompt asked for, from what it kept."""
    asked = kept.get(ASKED)
    return asked if isinstance(asked, int) else None


def kenyan_number(msisdn: str | None) -> str:
    """+2547XXXXXXXX -> 2547XXXXXXXX: Daraja takes a Kenyan number, without its +."""
    if not msisdn or not msisdn.startswith(KENYA) or len(msisdn) != len(KENYA) + 9:
        raise PaymentError(NAME, "unsupported_number", "M-Pesa works only with a Kenyan phone number.")
    return msisdn.removeprefix("+")


def whole_shillings(collection: Collection) -> int:
    """Daraja charges whole shillings: an order in cents that is not whole is refused before any call."""
    if collection.currency.upper() != CURRENCY:
        raise PaymentError(NAME, "unsupported_currency", "M-Pesa takes payments in Kenyan shillings only.")
    shillings, cents = divmod(collection.amount, int(10 ** minor_digits(CURRENCY)))
    if cents or shillings <= 0:
        raise PaymentError(NAME, "not_whole_shillings", "M-Pesa charges whole shillings only.")
    return shillings


def account_reference(collection: Collection) -> str:
    """≤12 characters the payer's statement shows: our reference's first hex digits, enough to find the order."""
    return collection.reference.hex[:ACCOUNT_REFERENCE_LENGTH].upper()


def description(text: str) -> str:
    cleaned = re.sub(r"[^0-9A-Za-z ]", " ", text)
    return (re.sub(r"\s+", " ", cleaned).strip() or "Vote")[:DESCRIPTION_LENGTH]
