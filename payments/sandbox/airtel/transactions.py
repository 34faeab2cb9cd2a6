"""Airtel's USSD push and its payouts, faked: each accepted under the caller's transaction id (a repeated id is
refused), decided by the wallet number's magic digits after a delay, told by enquiry, and called back (a push only)
on the application's URL, hashed with its key."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from payments.sandbox.airtel.state import (
    AIRTEL,
    DISAGREEING,
    PIN,
    AirtelState,
    PayoutRequest,
    PushRequest,
    Transaction,
    callback_body,
    envelope,
    plan_for,
    status_of,
)
from payments.sandbox.control import CONTROL, DISPATCHER, Notice, due_time, first_error, loop_time
from payments.sandbox.tokens import TokenCheck, bearer_token

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def refusal(status: int, response_code: str, message: str) -> web.Response:
    return web.json_response(envelope(None, response_code, code=status, success=False, message=message),
                             status=status)


def failure(status: int) -> web.Response:
    """Airtel's gateway during an outage (the gate's 5xx) or over its rate (the gate's 429)."""
    if status == 429:
        return web.json_response({"error": "too_many_requests", "error_description": "Rate limit exceeded."},
                                 status=429)
    return refusal(status, "ESB000001", "Something went wrong.")


def denied(request: web.Request) -> web.Response | None:
    """None when the request carries a live token issued here and its country and currency headers."""
    check = request.app[AIRTEL].tokens.check(bearer_token(request.headers.get("Authorization")), loop_time(),
                                             request.app[CONTROL].token_generation)
    if check is not TokenCheck.VALID:
        return web.json_response({"error": "invalid_token", "error_description": f"Access token is {check.value}."},
                                 status=401)
    if not request.headers.get("X-Country") or not request.headers.get("X-Currency"):
        return refusal(400, "ESB000008", "X-Country and X-Currency headers are required.")
    return None


async def read_body(request: web.Request, model: type[M]) -> M | web.Response:
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as invalid:
        where, problem = first_error(invalid)
        return refusal(400, "ESB000008", f"Invalid request: {where}: {problem}")


def record(state: AirtelState, transaction: Transaction, now: float, *, enquiry: bool = False) -> dict[str, Any]:
    status, code = status_of(transaction, now)
    if enquiry and status == "TS" and transaction.msisdn.endswith(DISAGREEING):
        status, code = "TF", "DP00800001008"
    body: dict[str, Any] = {"id": transaction.id, "status": status, "message": code}
    if status == "TS":
        body["airtel_money_id"] = transaction.airtel_money_id
    return envelope({"transaction": body}, code)


def accept(request: web.Request, store: dict[str, Transaction], txn: str, country: str, currency: str,
           msisdn: str, amount: int | float) -> Transaction:
    control = request.app[CONTROL]
    plan = plan_for(msisdn)
    transaction = Transaction(txn, country, currency, msisdn, amount, plan, due_time(plan.delay, loop_time(),
                                                                                      control))
    store[txn] = transaction
    return transaction


async def push(request: web.Request) -> web.Response:
    """`POST /merchant/v1/payments/`: the prompt is on the payer's phone (DP00800001006, in process)."""
    if (refused := denied(request)) is not None:
        return refused
    asked = await read_body(request, PushRequest)
    if isinstance(asked, web.Response):
        return asked
    txn, state = asked.transaction, request.app[AIRTEL]
    if (request.headers["X-Country"], request.headers["X-Currency"]) != (txn.country, txn.currency):
        return refusal(400, "ESB000008", "X-Country and X-Currency must match the transaction's.")
    if txn.id in state.pushes or txn.id in state.payouts:
        return refusal(400, "ESB000041", "Transaction id already used.")
    transaction = accept(request, state.pushes, txn.id, txn.country, txn.currency, asked.subscriber.msisdn,
                         txn.amount)
    if transaction.due_at is not None:
        request.app[DISPATCHER].schedule(transaction.due_at, partial(notice, state, transaction))
    log.info("airtel sandbox: push %s to %s -> %s", txn.id, asked.subscriber.msisdn, transaction.plan)
    return web.json_response(envelope({"transaction": {"id": txn.id, "status": "Success."}}, "DP00800001006",
                                      message="In process"))


def notice(state: AirtelState, transaction: Transaction) -> Notice | None:
    status, _ = status_of(transaction, loop_time())
    if status not in ("TS", "TF"):
        return None
    return Notice("POST", state.callback_url, callback_body(transaction, status, state.callback_key))


async def enquiry(request: web.Request) -> web.Response:
    """`GET /standard/v1/payments/{id}`."""
    return answer_enquiry(request, request.app[AIRTEL].pushes)


async def payout_enquiry(request: web.Request) -> web.Response:
    """`GET /standard/v1/disbursements/{id}`."""
    return answer_enquiry(request, request.app[AIRTEL].payouts)


def answer_enquiry(request: web.Request, store: dict[str, Transaction]) -> web.Response:
    if (refused := denied(request)) is not None:
        return refused
    transaction = store.get(request.match_info["id"])
    if transaction is None or transaction.country != request.headers["X-Country"]:
        return refusal(404, "DP00800001025", "Transaction Not Found.")
    return web.json_response(record(request.app[AIRTEL], transaction, loop_time(), enquiry=True))


async def payout(request: web.Request) -> web.Response:
    """`POST /standard/v1/disbursements/`: a repeated id is DP00900001017 (duplicate), a wrong PIN refused."""
    if (refused := denied(request)) is not None:
        return refused
    asked = await read_body(request, PayoutRequest)
    if isinstance(asked, web.Response):
        return asked
    state, txn = request.app[AIRTEL], asked.transaction
    if asked.pin != PIN:
        return refusal(400, "DP00900001002", "Incorrect Pin has been entered.")
    if txn.id in state.payouts:
        return refusal(400, "DP00900001017", "Duplicate transaction id.")
    transaction = accept(request, state.payouts, txn.id, request.headers["X-Country"],
                         request.headers["X-Currency"], asked.payee.msisdn, txn.amount)
    log.info("airtel sandbox: payout %s to %s -> %s", txn.id, asked.payee.msisdn, transaction.plan)
    body = {"reference_id": txn.id, "airtel_money_id": transaction.airtel_money_id, "id": txn.id, "status": "TIP"}
    return web.json_response(envelope({"transaction": body}, "DP00900001006", message="In process"))
