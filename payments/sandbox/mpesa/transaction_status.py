"""Daraja's Transaction Status query, as the sandbox answers it: taken at once (ResponseCode 0), its Result posted
to its ResultURL after `success_delay`. It finds a reversal or B2C payment the sandbox decided by its
OriginatorConversationID (`OriginalConversationID`, sic) or its M-Pesa receipt (`TransactionID`): ResultCode 0 with
the transaction's ResultParameters (ReceiptNo, TransactionStatus "Completed" or "Failed", Amount, ...); one it never
carried out (timed out in the queue, or never sent) answers a non-zero ResultCode, as Daraja does for a transaction
it cannot find."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from payments.sandbox.control import CONTROL, DISPATCHER, Notice, loop_time
from payments.sandbox.mpesa.money_out import Text, credential_holds
from payments.sandbox.mpesa.state import EAST_AFRICA, MPESA, CarriedOut, daraja_error
from payments.sandbox.mpesa.stk_push import HttpUrl, daraja_body

log = logging.getLogger(__name__)

NOT_FOUND = ("R000002", "The OriginalTransactionID is invalid.")


class TransactionStatusRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Initiator: Text
    SecurityCredential: Annotated[str, StringConstraints(min_length=1)]
    CommandID: Literal["TransactionStatusQuery"]
    TransactionID: Annotated[str, StringConstraints(max_length=20)] | None = None
    OriginalConversationID: Annotated[str, StringConstraints(max_length=100)] | None = None
    PartyA: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,12}$")]
    IdentifierType: Literal["1", "2", "4"]
    ResultURL: HttpUrl
    QueueTimeOutURL: HttpUrl
    Remarks: Text
    Occasion: Annotated[str, StringConstraints(max_length=100)] | None = None


def initiator_wrong(request: web.Request, body: TransactionStatusRequest) -> str | None:
    return None if credential_holds(request.app[MPESA], body.SecurityCredential) else "SecurityCredential"


async def transaction_status(request: web.Request) -> web.Response:
    """`POST /mpesa/transactionstatus/v1/query`."""
    body = await daraja_body(request, TransactionStatusRequest, initiator_wrong)
    if isinstance(body, web.Response):
        return body
    if not body.TransactionID and not body.OriginalConversationID:
        return daraja_error(400, "400.002.02", "Bad Request - Invalid TransactionID")
    state, originator = request.app[MPESA], f"{uuid.uuid4().int % 10**5}-{uuid.uuid4().int % 10**8}-1"
    conversation = f"AG_{uuid.uuid4().hex[:20].upper()}"
    found = state.carried_out.get(body.OriginalConversationID or "") or next(
        (done for done in state.carried_out.values() if body.TransactionID
         and done.result.get("TransactionID") == body.TransactionID), None)
    result = status_result(found, originator, conversation)
    request.app[DISPATCHER].schedule(loop_time() + request.app[CONTROL].success_delay,
                                     lambda: Notice("POST", body.ResultURL, {"Result": result}))
    log.info("mpesa sandbox: transaction status of %s -> %s", body.OriginalConversationID or body.TransactionID,
             result["ResultCode"])
    return web.json_response({"OriginatorConversationID": originator, "ConversationID": conversation,
                              "ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."})


def status_result(found: CarriedOut | None, originator: str, conversation: str) -> dict[str, Any]:
    if found is None:
        return {"ResultType": 0, "ResultCode": NOT_FOUND[0], "ResultDesc": NOT_FOUND[1],
                "OriginatorConversationID": originator, "ConversationID": conversation, "TransactionID": "0"}
    done = found.result
    succeeded = str(done["ResultCode"]) in ("0", "R000001")
    when = datetime.now(EAST_AFRICA).strftime("%Y%m%d%H%M%S")
    parameters = [
        {"Key": "ReceiptNo", "Value": done["TransactionID"]},
        {"Key": "TransactionStatus", "Value": "Completed" if succeeded else "Failed"},
        {"Key": "Amount", "Value": str(found.amount)},
        {"Key": "OriginatorConversationID", "Value": done["OriginatorConversationID"]},
        {"Key": "ConversationID", "Value": done["ConversationID"]},
        {"Key": "ReasonType", "Value": done["ResultDesc"]},
        {"Key": "InitiatedTime", "Value": when}, {"Key": "FinalisedTime", "Value": when}]
    return {"ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": originator, "ConversationID": conversation,
            "TransactionID": done["TransactionID"], "ResultParameters": {"ResultParameter": parameters}}
