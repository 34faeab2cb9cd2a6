"""What an MTN MoMo product's money request looks like (Collection's request to pay, Disbursement's refunds and
transfers) and how MTN reads one: its headers, its strictly validated body, MTN's 400 for the first thing wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Generic, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from payments.sandbox.control import first_error, is_http_url

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
Message = Annotated[str, StringConstraints(min_length=1, max_length=160, pattern=r"^[^&']*$")]


class Payer(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    partyIdType: Literal["MSISDN"]
    partyId: Annotated[str, StringConstraints(pattern=r"^[0-9]{8,15}$")]  # digits only: no "+", no spaces


class MoneyRequest(BaseModel):
    """What every MTN product's money request says, validated strictly: the amount is a string of digits, never a
    JSON number."""

    model_config = ConfigDict(extra="ignore", strict=True)

    amount: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*$")]
    currency: Literal["XAF", "XOF", "EUR"]
    externalId: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    payerMessage: Message | None = None
    payeeNote: Message | None = None


M = TypeVar("M", bound=MoneyRequest)


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def target_environment(request: web.Request) -> str | web.Response:
    environment = request.headers.get("X-Target-Environment", "").strip()
    return environment or error(400, "BAD_REQUEST", "Missing header X-Target-Environment.")


@dataclass(frozen=True)
class Asked(Generic[M]):
    """A money request's headers and body, read as MTN reads them."""

    reference: str  # lower case
    environment: str
    callback_url: str | None
    body: M


async def read_money_request(request: web.Request, model: type[M]) -> Asked[M] | web.Response:
    """The reference (a UUID), the environment, the callback URL and the body of any MTN product's money request,
    or MTN's 400 for the first thing wrong with them."""
    reference = request.headers.get("X-Reference-Id", "")
    if not UUID.fullmatch(reference):
        return error(400, "BAD_REQUEST", "Header X-Reference-Id must be a UUID.")
    environment = target_environment(request)
    if isinstance(environment, web.Response):
        return environment
    callback_url = request.headers.get("X-Callback-Url")
    if callback_url is not None and not is_http_url(callback_url):
        return error(400, "INVALID_CALLBACK_URL_HOST", "X-Callback-Url must be an http(s) URL.")
    try:
        body = model.model_validate_json(await request.read())
    except ValidationError as invalid:
        where, message = first_error(invalid)
        code = "INVALID_CURRENCY" if where == "currency" else "BAD_REQUEST"
        return error(400, code, f"{where}: {message}")
    return Asked(reference.lower(), environment, callback_url, body)
