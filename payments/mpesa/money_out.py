"""M-Pesa's money out: refunds by Reversal (`/mpesa/reversal/v1/request`) and payouts by B2C
(`/mpesa/b2c/v3/paymentrequest`), both asynchronous: the answer says Daraja took the request, its result comes
later to the ResultURL we gave (`payments.mpesa.outgoing_results`), or to the QueueTimeOutURL.

Sent again under one reference. A B2C payment carries our reference as its OriginatorConversationID, which Daraja
takes once; a reversal names the M-Pesa receipt it gives back, which is reversed once (a second one answers that
it was reversed already, which is a success: the money went back). A reference whose result is in is never sent
again. The initiator's password goes as SecurityCredential, encrypted with Safaricom's certificate (RSA PKCS#1
v1.5, base64).

A result that never comes. Daraja posts each result once, and may not at all: a request taken in whose result has
not come after `status_query_after` seconds is looked up by Daraja's Transaction Status query
(`payments.mpesa.transaction_status`) on the worker's next look, paced as every Daraja request is, and asked again
on a later look while no answer comes. Its answer decides as a result would; one that finds no such transaction
sends the request again under the same reference."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway.core.money import minor_digits
from gateway.core.providers import (
    CollectionNotFound,
    OutgoingPayout,
    OutgoingRefund,
    PaymentError,
    PaymentState,
    StatusResult,
)
from payments.answers import json_object, text_of
from payments.mpesa.api import NOT_SENT, DarajaApi, error_of
from payments.mpesa.outgoing_results import OutgoingResults
from payments.mpesa.paths import result_url, status_url, time_out_url
from payments.mpesa.request_cap import NAME
from payments.mpesa.results import SUCCESS
from payments.mpesa.stk_push import CURRENCY, kenyan_number
from payments.mpesa.transaction_status import PATH as STATUS_PATH
from payments.mpesa.transaction_status import query_body, query_status

ALREADY_REVERSED = "R000001"  # "The transaction has already been reversed": the money is back all the same
REMARKS_LENGTH = 100


def security_credential(certificate_pem: bytes, password: str) -> str:
    """The initiator's password encrypted with Safaricom's certificate (or a bare public key), base64."""
    public_key: object
    try:
        public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except ValueError:
        public_key = serialization.load_pem_public_key(certificate_pem)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise PaymentError(NAME, "bad_certificate", "Safaricom's certificate holds no RSA key.")
    return base64.b64encode(public_key.encrypt(password.encode(), padding.PKCS1v15())).decode()


class MpesaMoneyOut:

    def __init__(self, api: DarajaApi, results: OutgoingResults, *, initiator: str, password: str,
                 certificate: Callable[[], Awaitable[bytes]], shortcode: str, public_base_url: str,
                 callback_key: bytes, status_query_after: float = 120.0) -> None:
        self._api = api
        self._results = results
        self._initiator = initiator
        self._password = password
        self._certificate = certificate
        self._credential: str | None = None
        self._shortcode = shortcode
        self._public = public_base_url.rstrip("/")
        self._key = callback_key
        self._status_query_after = status_query_after

    def _urls(self, reference: uuid.UUID) -> dict[str, str]:
        return {"ResultURL": result_url(self._public, self._key, reference),
                "QueueTimeOutURL": time_out_url(self._public, self._key, reference)}

    def _status_url(self, reference: uuid.UUID) -> str:
        return status_url(self._public, self._key, reference)

    async def _security_credential(self) -> str:
        if self._credential is None:
            self._credential = security_credential(await self._certificate(), self._password)
        return self._credential

    async def send_refund(self, refund: OutgoingRefund) -> None:
        receipt = refund.collection.provider_txn_id
        if not receipt:
            raise PaymentError(NAME, "no_receipt", "The payment has no M-Pesa receipt to reverse.")
        await self._send(refund.reference, "/mpesa/reversal/v1/request", {
            "Initiator": self._initiator, "CommandID": "TransactionReversal", "TransactionID": receipt,
            "Amount": shillings(refund.amount, refund.currency), "ReceiverParty": self._shortcode,
            "RecieverIdentifierType": "11", "Remarks": remarks(f"Refund {refund.collection.description}"),
            "Occasion": str(refund.reference)[:100]})

    async def refund_status(self, refund: OutgoingRefund) -> StatusResult:
        # A receipt is reversed once: a reversal the status query cannot find is sent again at no risk.
        return await self._status(refund.reference, send_again_when_not_found=True)

    async def send_payout(self, payout: OutgoingPayout) -> None:
        await self._send(payout.reference, "/mpesa/b2c/v3/paymentrequest", {
            "OriginatorConversationID": str(payout.reference), "InitiatorName": self._initiator,
            "CommandID": "BusinessPayment", "Amount": shillings(payout.amount, payout.currency),
            "PartyA": self._shortcode, "PartyB": kenyan_number(payout.msisdn), "Remarks": remarks(payout.note),
            "Occasion": str(payout.reference)[:100]}, once=True)

    async def payout_status(self, payout: OutgoingPayout) -> StatusResult:
        # A payment Daraja took in is never sent again on the status query's "not found": that Daraja takes each
        # OriginatorConversationID once is not written down by Safaricom, and the query's non-zero codes also
        # mean "could not look it up". It stays sent, asked after at each wait, until Daraja's word or a person
        # (who reads the shortcode's statement on the M-Pesa org portal) settles it: never paid twice.
        return await self._status(payout.reference, send_again_when_not_found=False)

    async def _send(self, reference: uuid.UUID, path: str, body: dict[str, Any], *, once: bool = False) -> None:
        """Send, unless Daraja's result for the reference is in already (a resend after it was carried out). `once`
        (a B2C payment): never sent a second time unless Daraja's queue said it never carried it out; one whose
        answer was lost, or that Daraja took in, is followed by its result or the status query, which never pays."""
        word = await self._results.word(reference)
        if "result" in word or (once and ("tried" in word or "accepted" in word)):
            return
        full = {**body, "SecurityCredential": await self._security_credential(), **self._urls(reference)}
        if once:
            await self._api.ready()  # a token fetched now: the request goes out on it, or is refused whole
            await self._results.tried(reference, time.time())
        try:
            response = await self._api.post(path, full)
        except PaymentError as exc:
            if once and exc.code == NOT_SENT:
                await self._results.untried(reference)
            raise
        data = json_object(NAME, response) if response.status_code == 200 else {}
        if response.status_code != 200 or str(data.get("ResponseCode")) != SUCCESS:
            if once and response.status_code < 500:  # refused whole: nothing of it is at Daraja
                await self._results.untried(reference)
            raise error_of(response)
        await self._results.accepted(reference, text_of(data.get("ConversationID")) or "",
                                     text_of(data.get("OriginatorConversationID")) or str(reference), time.time())

    async def _status(self, reference: uuid.UUID, *, send_again_when_not_found: bool) -> StatusResult:
        word = await self._results.word(reference)
        if "result" in word:
            return result_status(word["result"])
        if word.get("timed_out") or (not word and send_again_when_not_found):
            raise CollectionNotFound(NAME, "not_carried_out", "Daraja did not carry this request out: send it again.")
        # A payout sent, its answer lost (or its word lost with Redis): the status query, by our reference, says.
        return await self._looked_up(reference, word, send_again_when_not_found)

    async def _looked_up(self, reference: uuid.UUID, word: dict[str, Any], send_again_when_not_found: bool
                         ) -> StatusResult:
        """Taken in, no result yet: what the status query found, or a query sent once the result is late (and
        again once its answer is)."""
        asked = await self._results.status(reference)
        if "result" in asked:
            found = query_status(asked["result"], result_parameters(asked["result"]))
            if found is None:
                await self._results.forget_status(reference)
                if not send_again_when_not_found:
                    return StatusResult(state=PaymentState.PENDING, raw_status="status:not_found",
                                        reason="Daraja's Transaction Status did not find it: asked again later")
                raise CollectionNotFound(NAME, "not_found", "Daraja's Transaction Status finds no such transaction: "
                                                            "send it again, under the same reference.")
            if found.state is not PaymentState.PENDING:
                return found
            asked = {}  # not decided yet: asked again once the wait is over
        now = time.time()
        since = asked.get("asked_at", word.get("at", word.get("tried")))
        waiting_since = float(since) if isinstance(since, int | float) else 0.0  # no time kept: late enough
        if now - waiting_since < self._status_query_after:
            return StatusResult(state=PaymentState.PENDING, raw_status="accepted")
        response = await self._api.post(STATUS_PATH, query_body(
            initiator=self._initiator, credential=await self._security_credential(),
            originator=str(word.get("originator") or reference), party_a=self._shortcode,
            url=self._status_url(reference), reference=reference))
        data = json_object(NAME, response) if response.status_code == 200 else {}
        if response.status_code != 200 or str(data.get("ResponseCode")) != SUCCESS:
            raise error_of(response)
        await self._results.asked(reference, now)
        return StatusResult(state=PaymentState.PENDING, raw_status="status_asked")


def result_status(result: dict[str, Any]) -> StatusResult:
    """A Result of Daraja's (reversal or B2C) as our StatusResult."""
    code = text_of(result.get("ResultCode")) or "unknown"
    parameters = result_parameters(result)
    if code in (SUCCESS, ALREADY_REVERSED):
        amount = parameters.get("TransactionAmount", parameters.get("Amount"))
        cents = None
        if isinstance(amount, int | float) and float(amount).is_integer():
            cents = int(amount) * int(10 ** minor_digits(CURRENCY))
        return StatusResult(state=PaymentState.SUCCESSFUL, amount=cents, currency=CURRENCY if cents else None,
                            provider_txn_id=text_of(result.get("TransactionID")), raw_status=code)
    return StatusResult(state=PaymentState.FAILED, reason=f"{text_of(result.get('ResultDesc')) or 'refused'} "
                        f"(M-Pesa {code})", raw_status=code)


def result_parameters(result: dict[str, Any]) -> dict[str, Any]:
    found = result.get("ResultParameters")
    items = found.get("ResultParameter") if isinstance(found, dict) else None
    if isinstance(items, dict):  # a single parameter comes as an object, not a list
        items = [items]
    return {str(item.get("Key")): item.get("Value") for item in items or [] if isinstance(item, dict)}


def shillings(amount: int, currency: str) -> int:
    if currency.upper() != CURRENCY:
        raise PaymentError(NAME, "unsupported_currency", "M-Pesa pays out Kenyan shillings only.")
    whole, cents = divmod(amount, int(10 ** minor_digits(CURRENCY)))
    if cents or whole <= 0:
        raise PaymentError(NAME, "not_whole_shillings", "M-Pesa pays whole shillings only.")
    return whole


def remarks(text: str) -> str:
    cleaned = " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())
    return (cleaned or "Ballot")[:REMARKS_LENGTH]
