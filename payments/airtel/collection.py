"""Airtel Money's Collection API: a USSD push under our transaction id, its outcome by enquiry, and its callback.

Our transaction id is the order's id (32 hex digits): Airtel's callback comes on the application's one URL and names
the transaction only, so the id tells which order it is about (`payments.airtel.routes`). A push is never sent twice
blind: Airtel documents no answer to a repeated id, and a second push could prompt the payer twice. So a start keeps
that it sent (`remember`) before it sends, and a start that finds it kept, or whose answer was lost, asks Airtel about
the id first: known there, the prompt is out and nothing is sent again.

An enquiry names no amount: what Airtel took under our id is the push's amount, which we chose, so a success is read
as the order's amount (an amount it does name is read as it is, and a different one flags the order). Only a callback
whose hash holds (`payments.airtel.callback_hash`) saying TS counts at once, and is verified by an enquiry later; any
other asks for an enquiry (bounded where no hash held: `gateway.kit.callback_checks`). Airtel advises enquiring a few
minutes after the push; the core's checks are paced by the application's cap, on the enquiries' share of its turns
(`payments.airtel.api`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from gateway.core.money import from_major, to_major_string
from gateway.core.money_in.reasons import readable_reason
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
from payments.airtel.api import AirtelApi, Wallet, error_of
from payments.airtel.callback_hash import hash_holds
from payments.airtel.codes import IN_PROCESS, NAME, NOT_FOUND, STATES, SUCCESS, code_suffix, reason_of, wallet_of
from payments.answers import json_object, parsed_object, text_of

log = logging.getLogger(__name__)
SENT = "airtel_sent"  # provider_data: a push was (or may have been) sent under the order's transaction id
REFERENCE_LENGTH = 64  # what the payer's statement shows of the description


def transaction_id(order_id: uuid.UUID) -> str:
    return order_id.hex


def order_of(transaction: object) -> uuid.UUID | None:
    """The order a transaction id of ours names; None for any other."""
    try:
        return uuid.UUID(hex=str(transaction)) if transaction is not None else None
    except ValueError:
        return None


def major_amount(amount: int, currency: str) -> int | float:
    """The amount as the JSON number Airtel's examples send (1000), in major units."""
    value = Decimal(to_major_string(amount, currency))
    return int(value) if value == value.to_integral_value() else float(value)


def status_block(data: dict[str, Any]) -> dict[str, Any]:
    block = data.get("status")
    return block if isinstance(block, dict) else {}


def transaction_of(data: dict[str, Any]) -> dict[str, Any] | None:
    record = data.get("data")
    found = record.get("transaction") if isinstance(record, dict) else None
    return found if isinstance(found, dict) else None


class AirtelCollection:
    name = NAME
    redirects = False
    # A prompt left unanswered ends at Airtel as timed out (DP00800001024; Airtel states no figure): ten minutes, as
    # MTN's and Orange's, leaves its enquiry time to catch up.
    payment_window = timedelta(minutes=10)
    status_calls_per_second: float | None = None  # every request shares the application's cap (`AirtelApi`)

    def __init__(self, api: AirtelApi, callback_key: str | None = None) -> None:
        self._api = api
        self._callback_key = callback_key  # None: callbacks carry no hash we check, each asks for an enquiry

    async def start(self, collection: Collection) -> StartResult:
        country, currency, national = wallet_of(collection.msisdn, collection.currency)
        wallet, txn = Wallet(country, currency), transaction_id(collection.order_id)
        sent = {SENT: txn}
        if collection.provider_data.get(SENT):  # an earlier start may have reached Airtel
            if await self._known(collection, wallet):
                return StartResult(provider_data=sent)
        elif collection.remember is not None:
            await collection.remember(sent)
        body = {"reference": collection.description[:REFERENCE_LENGTH],
                "subscriber": {"country": country, "currency": currency, "msisdn": national},
                "transaction": {"amount": major_amount(collection.amount, currency), "country": country,
                                "currency": currency, "id": txn}}
        try:
            response = await self._api.send("POST", "/merchant/v1/payments/", wallet, json=body, resend_lost=False)
        except PaymentError as exc:
            if exc.retryable and await self._known(collection, wallet):
                return StartResult(provider_data=sent)  # the answer was lost, the push went out
            raise
        data = json_object(NAME, response) if response.status_code == 200 else {}
        if response.status_code == 200 and status_block(data).get("success") is not False:
            return StartResult(provider_data=sent)
        refusal = refusal_of(response, data)
        if collection.provider_data.get(SENT) and await self._known(collection, wallet):
            return StartResult(provider_data=sent)  # a resend refused for its id: the first one got there
        raise refusal

    async def _known(self, collection: Collection, wallet: Wallet) -> bool:
        """Whether Airtel has a push under the order's id (raises a retryable PaymentError when it cannot say): part
        of a start, so on the turns of prompts, not of status enquiries."""
        try:
            await self._enquire(collection, wallet, for_prompt=True)
        except CollectionNotFound:
            return False
        except PaymentError as exc:
            raise PaymentError(NAME, exc.code, exc.message, retryable=True, status=exc.status) from exc
        return True

    async def fetch_status(self, collection: Collection) -> StatusResult:
        country, currency, _ = wallet_of(collection.msisdn, collection.currency)
        return await self._enquire(collection, Wallet(country, currency))

    async def _enquire(self, collection: Collection, wallet: Wallet, *, for_prompt: bool = False) -> StatusResult:
        txn = transaction_id(collection.order_id)
        record, status = await enquiry(self._api, f"/standard/v1/payments/{txn}", wallet,
                                       "payment under this transaction id", for_prompt=for_prompt)
        return read_status(record, status.get("response_code"), collection)

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """Proof only with the application's hash (see the module's docstring); else a reason to enquire."""
        data = parsed_object(callback.body) or {}
        record = data.get("transaction") if isinstance(data.get("transaction"), dict) else None
        claimed = "unparseable" if record is None else str(record.get("status_code", "unknown"))[:40].lower()
        asks_check = CallbackVerdict(order_id=callback.order_id, kind=f"callback.{claimed}")
        if collection is None or self._callback_key is None or record is None:
            return asks_check
        if not hash_holds(self._callback_key, record, data.get("hash")):
            raise CallbackRejected(NAME, "bad_callback_hash", "This callback's hash does not hold.")
        if order_of(record.get("id")) != collection.order_id or str(record.get("status_code")).upper() != "TS":
            return replace(asks_check, vouched=True)  # Airtel's own: its check is never bounded
        status = StatusResult(PaymentState.SUCCESSFUL, collection.amount, collection.currency,
                              text_of(record.get("airtel_money_id")), raw_status="TS")
        return CallbackVerdict(order_id=callback.order_id, kind=asks_check.kind, status=status, verify_later=True)

    async def refund(self, collection: Collection) -> StatusResult:
        raise RefundUnsupported(NAME, "refund_unsupported", "Airtel Money payments are refunded by a disbursement "
                                "(`payments.airtel.disbursement`), or by hand without one.")


async def enquiry(api: AirtelApi, path: str, wallet: Wallet, missing: str,
                  *, for_prompt: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Airtel's record of one transaction (a payment, a disbursement) and the answer's status block, asked at `path`;
    CollectionNotFound where Airtel has none (`missing` says what it has not). On the status enquiries' share of the
    application's turns, unless it is part of a prompt (`for_prompt`)."""
    response = await api.send("GET", path, wallet, enquiry=not for_prompt)
    data = json_object(NAME, response) if response.status_code in (200, 404) else {}
    if response.status_code == 404 or code_suffix(status_block(data).get("response_code")) == NOT_FOUND:
        raise CollectionNotFound(NAME, "not_found", f"Airtel has no {missing}.", status=response.status_code)
    if response.status_code != 200:
        raise error_of(response)
    record = transaction_of(data)
    if record is None:
        raise PaymentError(NAME, "unreadable_answer", "Airtel's enquiry holds no transaction.", retryable=True)
    return record, status_block(data)


def refusal_of(response: httpx.Response, data: dict[str, Any]) -> PaymentError:
    """A push Airtel did not take: its response code in the voter's words where it names one."""
    error = error_of(response)
    code = status_block(data).get("response_code") or error.code
    if error.retryable or not code_suffix(code) or code_suffix(code) in (SUCCESS, *IN_PROCESS):
        return error
    reason = reason_of(code)  # the order keeps the message: the core's words, which the channels translate by code
    return PaymentError(NAME, reason, readable_reason(reason), status=response.status_code)


def read_status(record: dict[str, Any], response_code: object, collection: Collection) -> StatusResult:
    """An enquiry's transaction in our states: TS paid, TF failed (its response code in the voter's words), TE
    expired, TA and TIP pending, and anything unknown pending too (asked again later, never a verdict)."""
    raw = str(record.get("status", "")).upper()
    state = STATES.get(raw, PaymentState.PENDING)
    txn = text_of(record.get("airtel_money_id"))
    if state is PaymentState.SUCCESSFUL:
        amount, currency = collection.amount, collection.currency
        if record.get("amount") is not None:
            currency = str(record.get("currency") or collection.currency)
            try:
                amount = from_major(str(record["amount"]), currency)
            except ValueError:
                return StatusResult(state, None, None, txn, raw_status=raw)  # unreadable: flagged
        return StatusResult(state, amount, currency, txn, raw_status=raw)
    if state in (PaymentState.FAILED, PaymentState.EXPIRED):
        log.info("airtel: transaction %s %s (%s)", collection.order_id, raw, response_code)
        reason = reason_of(response_code) if state is PaymentState.FAILED else "EXPIRED"
        return StatusResult(state, provider_txn_id=txn, reason=reason, raw_status=raw)
    return StatusResult(state, provider_txn_id=txn, raw_status=raw)
