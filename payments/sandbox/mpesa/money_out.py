"""Daraja's money out, as the sandbox answers it: a Reversal of an STK Push's receipt and a B2C payment, each taken
at once (ResponseCode 0) and decided later on the ResultURL; or timed out in the queue (its QueueTimeOutURL told,
nothing carried out), or its result posted to the QueueTimeOutURL instead (`SandboxControl`'s mpesa switches).
A B2C payment is carried out once per OriginatorConversationID; a receipt is reversed once (a second reversal's
result says it was reversed already). The initiator's SecurityCredential must decrypt, with the sandbox's key, to
the sandbox initiator's password."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payments.sandbox.control import CONTROL, DISPATCHER, Notice, SandboxControl, loop_time
from payments.sandbox.mpesa.state import MPESA, CarriedOut, MpesaState
from payments.sandbox.mpesa.stk_push import HttpUrl, Phone, daraja_body

log = logging.getLogger(__name__)

INITIATOR_PASSWORD = "Safaricom999!*!"  # what the sandbox initiator's SecurityCredential must decrypt to
PAYEE_REFUSALS = {"451": ("2040", "Credit Party customer type (Unregistered or Registered Customer) can't be "
                                  "supported by the service.")}
Text = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Outgoing(BaseModel):
    model_config = ConfigDict(extra="ignore")

    SecurityCredential: Annotated[str, StringConstraints(min_length=1)]
    Amount: Annotated[int, Field(ge=1, le=250_000)]
    ResultURL: HttpUrl
    QueueTimeOutURL: HttpUrl
    Remarks: Text


OutgoingBody = TypeVar("OutgoingBody", bound=Outgoing)


class ReversalRequest(Outgoing):
    Initiator: Text
    CommandID: Literal["TransactionReversal"]
    TransactionID: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{10}$")]
    ReceiverParty: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,7}$")]
    RecieverIdentifierType: Literal["11", "4"]  # sic: Daraja's own spelling


class B2cRequest(Outgoing):
    OriginatorConversationID: Text | None = None  # v3: takes the request once
    InitiatorName: Text
    CommandID: Literal["BusinessPayment", "SalaryPayment", "PromotionPayment"]
    PartyA: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,7}$")]
    PartyB: Phone


def credential_holds(state: MpesaState, credential: str) -> bool:
    try:
        decrypted = state.key.decrypt(base64.b64decode(credential, validate=True), padding.PKCS1v15())
    except (ValueError, binascii.Error):
        return False
    return decrypted == INITIATOR_PASSWORD.encode()


async def certificate(request: web.Request) -> web.Response:
    """The sandbox's stand-in for Safaricom's certificate: the public key the initiator's password is sealed with."""
    pem = request.app[MPESA].key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return web.Response(body=pem, content_type="application/x-pem-file")


async def paid_out(request: web.Request) -> web.Response:
    """What the sandbox carried out, for a developer or a test to see nothing went out twice."""
    state = request.app[MPESA]
    return web.json_response({"b2c_payments": state.b2c_sent, "reversed_receipts": sorted(state.reversed)})


async def read(request: web.Request, model: type[OutgoingBody]) -> OutgoingBody | web.Response:
    return await daraja_body(request, model, credential_wrong)


def credential_wrong(request: web.Request, body: Outgoing) -> str | None:
    return None if credential_holds(request.app[MPESA], body.SecurityCredential) else "SecurityCredential"


async def reversal(request: web.Request) -> web.Response:
    """`POST /mpesa/reversal/v1/request`."""
    body = await read(request, ReversalRequest)
    if isinstance(body, web.Response):
        return body
    state = request.app[MPESA]
    # A paid prompt's receipt, or a payment made from the menu into the paybill (C2B): both are reversed alike.
    paid = state.paid_prompt(body.TransactionID, loop_time()) is not None or \
        any(payment.receipt == body.TransactionID for payment in state.c2b)
    parameters: list[dict[str, Any]] = []
    if not paid:
        code, description = "R000002", "The OriginalTransactionID is invalid."
    elif body.TransactionID in state.reversed:
        code, description = "R000001", "The transaction has already been reversed."
    else:
        code, description = "0", "The service request is processed successfully."
        parameters = [{"Key": "Amount", "Value": float(body.Amount)},
                      {"Key": "OriginalTransactionID", "Value": body.TransactionID}]
    return accept(request, body, code, description, parameters,
                  carry_out=lambda: state.reversed.add(body.TransactionID))


async def b2c(request: web.Request) -> web.Response:
    """`POST /mpesa/b2c/v3/paymentrequest` (and v1): a payment to a phone, once per OriginatorConversationID."""
    body = await read(request, B2cRequest)
    if isinstance(body, web.Response):
        return body
    state, control = request.app[MPESA], request.app[CONTROL]
    if (body.OriginatorConversationID and not control.mpesa_pays_repeats
            and (answered := state.payouts.get(body.OriginatorConversationID))):
        return web.json_response(answered)  # taken before: nothing paid twice
    code, description = PAYEE_REFUSALS.get(body.PartyB[-3:], ("0", "The service request is processed "
                                                                  "successfully."))
    parameters: list[dict[str, Any]] = [
        {"Key": "TransactionAmount", "Value": body.Amount},
        {"Key": "ReceiverPartyPublicName", "Value": f"{body.PartyB} - Sandbox Payee"}] if code == "0" else []
    def paid() -> None:
        state.b2c_sent += 1

    response = accept(request, body, code, description, parameters, carry_out=paid,
                      originator=body.OriginatorConversationID)
    if body.OriginatorConversationID and response.status == 200:
        state.payouts[body.OriginatorConversationID] = answer_of(response)
    return lost_on_the_way(control) or response


def accept(request: web.Request, body: Outgoing, code: str, description: str, parameters: list[dict[str, Any]], *,
           carry_out: Callable[[], object], originator: str | None = None) -> web.Response:
    """Take the request in (ResponseCode 0), then at `success_delay` carry it out and post its Result (never, while
    `mpesa_lose_results_next` lasts: only the Transaction Status query finds it); or, while `mpesa_time_out_next`
    lasts, tell its QueueTimeOutURL it was never carried out."""
    control, conversation = request.app[CONTROL], f"AG_{uuid.uuid4().hex[:20].upper()}"
    originator = originator or f"{uuid.uuid4().int % 10**5}-{uuid.uuid4().int % 10**8}-1"
    at = loop_time() + control.success_delay
    if control.mpesa_time_out_next > 0:
        control.mpesa_time_out_next -= 1
        notice = Notice("POST", body.QueueTimeOutURL, {"requestId": originator, "errorCode": "500.003.1001",
                                                       "errorMessage": "Request timed out in the queue"})
        request.app[DISPATCHER].schedule(at, lambda: notice)
    else:
        lose = control.mpesa_lose_results_next > 0
        control.mpesa_lose_results_next -= 1 if lose else 0
        url = body.QueueTimeOutURL if control.mpesa_results_on_time_out_url else body.ResultURL
        result = {"ResultType": 0, "ResultCode": code if code.startswith("R") else int(code),
                  "ResultDesc": description, "OriginatorConversationID": originator, "ConversationID": conversation,
                  "TransactionID": uuid.uuid4().hex[:10].upper(),
                  "ResultParameters": {"ResultParameter": parameters}}

        def carried_out() -> Notice | None:
            if code == "0":
                carry_out()
            request.app[MPESA].carried_out[originator] = CarriedOut(result, body.Amount)
            return None if lose else Notice("POST", url, {"Result": result})

        request.app[DISPATCHER].schedule(at, carried_out)
    log.info("mpesa sandbox: %s %s -> %s", request.path, originator, code)
    return web.json_response({"OriginatorConversationID": originator, "ConversationID": conversation,
                              "ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."})


def lost_on_the_way(control: SandboxControl) -> web.Response | None:
    """A 503 instead of the answer, while `mpesa_lose_answers_next` lasts: the request was taken in all the same."""
    if control.mpesa_lose_answers_next <= 0:
        return None
    control.mpesa_lose_answers_next -= 1
    return web.json_response({"requestId": uuid.uuid4().hex, "errorCode": "503.001.01",
                              "errorMessage": "The service is unavailable: try again later"}, status=503)


def answer_of(response: web.Response) -> dict[str, str]:
    assert isinstance(response.body, bytes)
    return dict(json.loads(response.body))
