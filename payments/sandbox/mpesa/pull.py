"""Daraja's Pull Transactions, as the sandbox answers them: the shortcode's registration (once) and its query, a
page of its C2B payments at a time (an OffSetValue of rows, as Safaricom documents it), within the last 48 hours.
Listed: every prompt the payer approved (its AccountReference as the bill reference), and the payments made on a
phone's own menu into the paybill (`POST /sandbox/c2b`, as a developer or a test pays with no prompt of ours).

Safaricom's page documents the fields of a transaction (transactionId, trxDate, msisdn, transactiontype,
billreference, amount, organizationname) and the codes (1000 fetched, 1001 none), not the answer's whole shape: the
sandbox lists them under `Response`, a list of lists, as clients in the wild read it."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payments.sandbox.control import loop_time
from payments.sandbox.mpesa.state import MPESA, SHORTCODE, C2bPayment, MpesaState, daraja_error, new_receipt
from payments.sandbox.mpesa.stk_push import HttpUrl, Phone, daraja_body

log = logging.getLogger(__name__)

PAGE = 100  # rows a query answers at most
KEPT = timedelta(hours=48)  # how far back Pull Transactions reaches
EAST_AFRICA = timezone(timedelta(hours=3), "EAT")
ShortCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5,7}$")]
When = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{1,2}:[0-9]{2}(:[0-9]{2,3})?$")]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ShortCode: ShortCode
    RequestType: str
    NominatedNumber: Annotated[str, StringConstraints(pattern=r"^(254|0)[0-9]{9}$")]
    CallBackURL: HttpUrl


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ShortCode: ShortCode
    StartDate: When
    EndDate: When
    OffSetValue: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,7}$")]


class PaidIn(BaseModel):
    """`POST /sandbox/c2b`: a payment into the paybill made on the phone, naming `bill_reference`."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone
    amount: Annotated[int, Field(ge=1, le=250_000)]
    bill_reference: Annotated[str, StringConstraints(max_length=20)] = ""


def shortcode_wrong(request: web.Request, body: RegisterRequest | QueryRequest) -> str | None:
    return None if body.ShortCode == SHORTCODE else "ShortCode"


async def register(request: web.Request) -> web.Response:
    """`POST /pulltransactions/v1/register`: 1000 the first time, 1001 after."""
    body = await daraja_body(request, RegisterRequest, shortcode_wrong)
    if isinstance(body, web.Response):
        return body
    state = request.app[MPESA]
    status, text = ("1001", "ShortCode already Registered") if state.pull_registered else \
        ("1000", "Shortcode Registered Successfully")
    state.pull_registered = True
    return web.json_response({"ResponseRefID": str(uuid.uuid4()), "ResponseStatus": status,
                              "ShortCode": body.ShortCode, "ResponseDescription": text})


def east_african(text: str) -> datetime:
    """"2020-08-04 8:36:00" (Nairobi's time, as Daraja's other timestamps are), seconds optional."""
    day, clock = text.split(" ")
    parts = [int(part) for part in clock.split(":")] + [0]
    return datetime.fromisoformat(day).replace(hour=parts[0], minute=parts[1], second=min(parts[2], 59),
                                               tzinfo=EAST_AFRICA)


def listed(state: MpesaState, now: float) -> list[C2bPayment]:
    """The shortcode's C2B payments, oldest first: approved prompts and payments made on a phone's menu."""
    prompts = [C2bPayment(prompt.receipt, prompt.phone, prompt.amount, prompt.account_reference, prompt.paid_at)
               for prompt in state.prompts.values()
               if prompt.paid_at is not None and prompt.plan.status == "0" and not prompt.is_open(now)]
    return sorted([*prompts, *state.c2b], key=lambda payment: payment.paid_at)


def row(payment: C2bPayment) -> dict[str, Any]:
    return {"transactionId": payment.receipt, "trxDate": payment.paid_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "msisdn": int(payment.phone), "sender": "SANDBOX", "transactiontype": "c2b-pay-bill-debit",
            "billreference": payment.bill_reference, "amount": f"{payment.amount:.1f}",
            "organizationname": "Ballot sandbox"}


async def query(request: web.Request) -> web.Response:
    """`POST /pulltransactions/v1/query`: a page of the window's payments from OffSetValue; 1001 past the last."""
    body = await daraja_body(request, QueryRequest, shortcode_wrong)
    if isinstance(body, web.Response):
        return body
    start, end = east_african(body.StartDate), east_african(body.EndDate)
    oldest = datetime.now(UTC) - KEPT
    found = [payment for payment in listed(request.app[MPESA], loop_time())
             if max(start, oldest) <= payment.paid_at <= end]
    offset = int(body.OffSetValue)
    page = found[offset:offset + PAGE]
    if not page:
        return web.json_response({"ResponseRefID": str(uuid.uuid4()), "ResponseCode": "1001",
                                  "ResponseMessage": "No transactions available", "Response": [[]]})
    return web.json_response({"ResponseRefID": str(uuid.uuid4()), "ResponseCode": "1000",
                              "ResponseMessage": "Success", "Response": [[row(payment) for payment in page]]})


async def paid_in(request: web.Request) -> web.Response:
    """`POST /sandbox/c2b`: money into the paybill that no prompt asked for (its receipt is answered)."""
    try:
        asked = PaidIn.model_validate_json(await request.read())
    except ValueError:
        return daraja_error(400, "400.002.02", "Bad Request - Invalid c2b payment")
    payment = C2bPayment(new_receipt(), asked.phone, asked.amount, asked.bill_reference,
                         datetime.now(UTC))
    request.app[MPESA].c2b.append(payment)
    log.info("mpesa sandbox: c2b %s of %s from %s", payment.receipt, payment.amount, payment.phone)
    return web.json_response(row(payment))
