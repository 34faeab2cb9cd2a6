"""Daraja's C2B, as the sandbox answers it: a shortcode's URLs registered (`/mpesa/c2b/v2/registerurl`, v1 too),
and a customer paying the paybill from the M-Pesa menu simulated (`/mpesa/c2b/v1/simulate`, as Daraja's own sandbox
has it; v2 too): the ValidationURL is asked first (its refusal, or its silence under ResponseType "Cancelled", stops
the payment), then the payment is made (Pull Transactions lists it) and its confirmation posted to the
ConfirmationURL, as every sandbox callback is (`drop_callbacks` loses it, `duplicate_callbacks` repeats it).

Like Daraja, a URL holding "M-Pesa", "MPesa" or "Safaricom" (any case) is refused at registration. The payer's
number is sent as production sends it now: a SHA-256 hash (hex) of the 2547… number. Daraja's simulate answers at
once that it took the request; the sandbox's answer adds what happened (`sandbox`: the receipt, the validation's
answer), so a simulator can tell the payer."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payments.sandbox.control import DISPATCHER, Notice, loop_time, without_query
from payments.sandbox.mpesa.state import EAST_AFRICA, MPESA, SHORTCODE, C2bPayment, C2bUrls, new_receipt
from payments.sandbox.mpesa.stk_push import HttpUrl, Phone, daraja_body

log = logging.getLogger(__name__)

FORBIDDEN = re.compile(r"m-?pesa|safaricom", re.IGNORECASE)
VALIDATION_WAIT = 8.0  # seconds Daraja gives the ValidationURL (then ResponseType decides)
ShortCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5,7}$")]


class RegisterUrl(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ShortCode: ShortCode
    ResponseType: Literal["Completed", "Cancelled"]
    ConfirmationURL: HttpUrl
    ValidationURL: HttpUrl


class Simulate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ShortCode: ShortCode
    CommandID: Literal["CustomerPayBillOnline", "CustomerBuyGoodsOnline"]
    Amount: Annotated[int, Field(ge=1, le=250_000)]
    Msisdn: Phone
    BillRefNumber: Annotated[str, StringConstraints(max_length=20)] = ""


def registration_wrong(request: web.Request, body: RegisterUrl) -> str | None:
    if body.ShortCode != SHORTCODE:
        return "ShortCode"
    for name in ("ConfirmationURL", "ValidationURL"):
        if FORBIDDEN.search(getattr(body, name)):
            return name
    return None


async def register_url(request: web.Request) -> web.Response:
    body = await daraja_body(request, RegisterUrl, registration_wrong)
    if isinstance(body, web.Response):
        return body
    request.app[MPESA].c2b_urls[body.ShortCode] = C2bUrls(body.ResponseType, body.ConfirmationURL,
                                                          body.ValidationURL)
    log.info("mpesa sandbox: C2B URLs of %s registered (%s)", body.ShortCode, without_query(body.ConfirmationURL))
    return web.json_response({"OriginatorCoversationID": str(uuid.uuid4()), "ResponseCode": "0",
                              "ResponseDescription": "Success"})


def simulation_wrong(request: web.Request, body: Simulate) -> str | None:
    return None if body.ShortCode in request.app[MPESA].c2b_urls else "ShortCode"


def notice_body(receipt: str, body: Simulate, at: datetime) -> dict[str, str]:
    return {"TransactionType": "Pay Bill" if body.CommandID == "CustomerPayBillOnline" else "Buy Goods",
            "TransID": receipt, "TransTime": at.astimezone(EAST_AFRICA).strftime("%Y%m%d%H%M%S"),
            "TransAmount": f"{body.Amount}.00", "BusinessShortCode": body.ShortCode,
            "BillRefNumber": body.BillRefNumber, "InvoiceNumber": "", "OrgAccountBalance": "",
            "ThirdPartyTransID": "", "MSISDN": hashlib.sha256(body.Msisdn.encode()).hexdigest(),
            "FirstName": "SANDBOX", "MiddleName": "", "LastName": ""}


async def validated(url: str, notice: dict[str, str], response_type: str) -> tuple[bool, Any]:
    """Whether the payment goes ahead, and what the ValidationURL answered (its silence: the ResponseType)."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=VALIDATION_WAIT)) as session, \
                session.post(url, json=notice) as response:
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        log.info("mpesa sandbox: validation %s did not answer (%r): %s", without_query(url), error, response_type)
        return response_type == "Completed", {"unanswered": response_type}
    code = str(answer.get("ResultCode")) if isinstance(answer, dict) else None
    return code == "0", answer


async def simulate(request: web.Request) -> web.Response:
    """`POST /mpesa/c2b/v1/simulate`: a customer pays the paybill from the menu (see the module)."""
    body = await daraja_body(request, Simulate, simulation_wrong)
    if isinstance(body, web.Response):
        return body
    state = request.app[MPESA]
    urls, receipt, now = state.c2b_urls[body.ShortCode], new_receipt(), datetime.now(UTC)
    notice = notice_body(receipt, body, now)
    goes_ahead, validation = await validated(urls.validation, notice, urls.response_type)
    made = {"TransID": receipt if goes_ahead else None, "validation": validation}
    if goes_ahead:
        state.c2b.append(C2bPayment(receipt, body.Msisdn, body.Amount, body.BillRefNumber, now))
        request.app[DISPATCHER].schedule(loop_time(), partial(Notice, "POST", urls.confirmation, notice))
    log.info("mpesa sandbox: c2b simulate %s of %s to %s (%s) -> %s", receipt, body.Amount, body.ShortCode,
             body.BillRefNumber, "paid" if goes_ahead else "refused")
    return web.json_response({"ConversationID": f"AG_{now:%Y%m%d}_{receipt}", "OriginatorCoversationID":
                              str(uuid.uuid4()), "ResponseCode": "0",
                              "ResponseDescription": "Accept the service request successfully.", "sandbox": made})
