"""Daraja's OAuth and STK Push, as the sandbox answers them: a token by client credentials, a prompt (refused with
errorCode 500.001.1001 while another is open on the same phone), its query and its callback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from payments.sandbox.control import CONTROL, DISPATCHER, Notice, first_error, loop_time
from payments.sandbox.mpesa.state import MPESA, TOKEN_LIFETIME, Prompt, daraja_error, password_holds
from payments.sandbox.tokens import TokenCheck, basic_credentials, bearer_token

log = logging.getLogger(__name__)

Phone = Annotated[str, StringConstraints(pattern=r"^254(7|1)[0-9]{8}$")]  # 2547XXXXXXXX, no +
Stamp = Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")]  # YYYYMMDDHHmmss
Body = TypeVar("Body", bound=BaseModel)
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+\S*$")]


class StkPushRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    BusinessShortCode: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,7}$")]
    Password: Annotated[str, StringConstraints(min_length=1)]
    Timestamp: Stamp
    TransactionType: Literal["CustomerPayBillOnline", "CustomerBuyGoodsOnline"]
    Amount: Annotated[int, Field(ge=1, le=250_000)]  # whole shillings
    PartyA: Phone
    PartyB: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,7}$")]
    PhoneNumber: Phone
    CallBackURL: HttpUrl
    AccountReference: Annotated[str, StringConstraints(min_length=1, max_length=12)]
    TransactionDesc: Annotated[str, StringConstraints(min_length=1, max_length=182)]


class StkQueryRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    BusinessShortCode: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,7}$")]
    Password: Annotated[str, StringConstraints(min_length=1)]
    Timestamp: Stamp
    CheckoutRequestID: Annotated[str, StringConstraints(min_length=1, max_length=100)]


async def generate_token(request: web.Request) -> web.Response:
    """`GET /oauth/v1/generate?grant_type=client_credentials`, Basic auth."""
    control = request.app[CONTROL]
    if basic_credentials(request.headers.get("Authorization")) is None or control.reject_credentials:
        return daraja_error(400, "400.008.01", "Invalid Authentication passed")
    if request.query.get("grant_type") != "client_credentials":
        return daraja_error(400, "400.008.02", "Invalid grant type passed")
    lifetime = control.token_lifetime or TOKEN_LIFETIME
    token = request.app[MPESA].tokens.issue(loop_time(), lifetime, control.token_generation)
    return web.json_response({"access_token": token, "expires_in": str(int(lifetime))})


def unauthorized(request: web.Request) -> web.Response | None:
    token = bearer_token(request.headers.get("Authorization"))
    checked = request.app[MPESA].tokens.check(token, loop_time(), request.app[CONTROL].token_generation)
    if checked is TokenCheck.VALID:
        return None
    return daraja_error(401, "404.001.03", "Invalid Access Token")


async def daraja_body(request: web.Request, model: type[Body],
                      wrong: Callable[[web.Request, Body], str | None]) -> Body | web.Response:
    """The request's body as `model`, or Daraja's refusal: 401 without a valid token, else 400 naming the first field
    that does not parse or the one `wrong` finds wrong."""
    if (denied := unauthorized(request)) is not None:
        return denied
    try:
        body = model.model_validate_json(await request.read())
    except ValidationError as invalid:
        where, _ = first_error(invalid)
        return daraja_error(400, "400.002.02", f"Bad Request - Invalid {where}")
    if (field := wrong(request, body)) is not None:
        return daraja_error(400, "400.002.02", f"Bad Request - Invalid {field}")
    return body


def password_wrong(request: web.Request, body: StkPushRequest | StkQueryRequest) -> str | None:
    return None if password_holds(body.BusinessShortCode, body.Password, body.Timestamp) else "Password"


async def process_request(request: web.Request) -> web.Response:
    """`POST /mpesa/stkpush/v1/processrequest`: the prompt goes to the phone, unless one is open there."""
    body = await daraja_body(request, StkPushRequest, password_wrong)
    if isinstance(body, web.Response):
        return body
    state, now = request.app[MPESA], loop_time()
    if state.open_prompt(body.PhoneNumber, now) is not None:
        return daraja_error(500, "500.001.1001", "Unable to lock subscriber, a transaction is already in process "
                                                 "for the current subscriber")
    prompt = state.accept(body.PhoneNumber, body.Amount, body.CallBackURL, now, request.app[CONTROL],
                          body.AccountReference)
    if prompt.due_at is not None:
        request.app[DISPATCHER].schedule(prompt.due_at, partial(stk_notice, prompt))
    log.info("mpesa sandbox: prompt %s to %s -> %s", prompt.checkout_id, prompt.phone, prompt.plan)
    return web.json_response({"MerchantRequestID": prompt.merchant_id, "CheckoutRequestID": prompt.checkout_id,
                              "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing",
                              "CustomerMessage": "Success. Request accepted for processing"})


def stk_notice(prompt: Prompt) -> Notice:
    return Notice("POST", prompt.callback_url, {"Body": {"stkCallback": prompt.result()}})


async def query(request: web.Request) -> web.Response:
    """`POST /mpesa/stkpushquery/v1/query`: the prompt's ResultCode, or 500.001.1001 while it is open."""
    body = await daraja_body(request, StkQueryRequest, password_wrong)
    if isinstance(body, web.Response):
        return body
    prompt = request.app[MPESA].prompts.get(body.CheckoutRequestID)
    if prompt is None:
        return daraja_error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
    if prompt.is_open(loop_time()):
        return daraja_error(500, "500.001.1001", "The transaction is being processed")
    result = prompt.result()
    code = {"ResultCode": str(result["ResultCode"])} if "ResultCode" in result else {}
    return web.json_response({"ResponseCode": "0", "ResponseDescription": "The service request has been accepted "
                              "successsfully", "MerchantRequestID": prompt.merchant_id,
                              "CheckoutRequestID": prompt.checkout_id, **code, "ResultDesc": result["ResultDesc"]})
