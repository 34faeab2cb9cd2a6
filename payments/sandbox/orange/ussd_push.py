"""Orange Cameroon's USSD-push merchant payment ("mp"), faked: the outcome a subscriber number chooses,
the payment's status over time, its notification, and the API."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from payments.sandbox.control import (
    CONTROL,
    DISPATCHER,
    Delay,
    Notice,
    Plan,
    due_time,
    first_error,
    is_due,
    loop_time,
    whole_seconds,
)
from payments.sandbox.orange.answers import issue_token, mp_error, mp_unauthorized
from payments.sandbox.orange.state import (
    MP_ANY_OTHER,
    MP_FIELD_MESSAGES,
    MP_MAGIC_NUMBERS,
    MP_TOKEN_LIFETIME,
    ORANGE,
    MpPayment,
    MpPayRequest,
    txnid,
)

log = logging.getLogger(__name__)


def mp_plan_for(subscriber: str) -> Plan:
    return MP_MAGIC_NUMBERS.get(subscriber[-3:], MP_ANY_OTHER)


def mp_status(payment: MpPayment, now: float) -> str:
    if payment.plan is None:
        return "PENDING"
    return payment.plan.status if is_due(payment.due_at, now) else "PENDING"


def mp_data(payment: MpPayment, now: float) -> dict[str, Any]:
    """The `data` object of pay/paymentstatus answers, shaped like Orange's transaction record."""
    status = mp_status(payment, now)
    order = payment.order
    decided = status != "PENDING"
    return {
        "id": payment.id,
        "createtime": str(payment.created_ms),
        "subscriberMsisdn": order.subscriberMsisdn if order else None,
        "amount": int(order.amount) if order else None,
        "payToken": payment.pay_token,
        "txnid": payment.txnid if status == "SUCCESSFULL" else None,
        "inittxnmessage": "Paiement en attente de confirmation par l'abonné." if order else None,
        "inittxnstatus": "200" if order else None,
        "confirmtxnstatus": ("200" if status == "SUCCESSFULL" else "417") if decided else None,
        "confirmtxnmessage": payment.plan.reason if decided and payment.plan else None,
        "status": status,
        "notifUrl": order.notifUrl if order else None,
        "description": order.description if order else None,
        "channelUserMsisdn": order.channelUserMsisdn if order else None,
    }


def mp_notification(payment: MpPayment, now: float) -> dict[str, Any] | None:
    status = mp_status(payment, now)
    if status == "PENDING" or payment.plan is None:
        return None
    return {"payToken": payment.pay_token, "status": status, "message": payment.plan.reason}



def describe_magic_numbers() -> dict[str, Any]:
    table = {f"ending {suffix}": _describe(plan) for suffix, plan in MP_MAGIC_NUMBERS.items()}
    table["any other"] = _describe(MP_ANY_OTHER)
    return {
        "mp (subscriberMsisdn, last three digits)": table,
        "webpay": "the payer presses Pay/Cancel on payment_url, or control.webpay_auto_outcome decides after "
        "success_delay; undecided payments turn EXPIRED after webpay_expiry (no notification)",
    }


def _describe(plan: Plan) -> str:
    if plan.delay is Delay.NEVER:
        return "stays PENDING forever, no notification"
    return f"{plan.status} after {'long_delay' if plan.delay is Delay.LONG else 'success_delay'}"




async def mp_token(request: web.Request) -> web.Response:
    lifetime = request.app[CONTROL].token_lifetime or MP_TOKEN_LIFETIME
    token = await issue_token(request, request.app[ORANGE].mp_tokens, lifetime)
    if isinstance(token, web.Response):
        return token
    answer = {"access_token": token, "scope": "am_application_scope default", "token_type": "Bearer",
              "expires_in": whole_seconds(lifetime)}
    return web.json_response(answer)


async def mp_init(request: web.Request) -> web.Response:
    if (denied := mp_unauthorized(request)) is not None:
        return denied
    state = request.app[ORANGE]
    now = datetime.now(UTC)
    pay_token = f"MP{now:%y%m%d}{secrets.token_hex(8).upper()}"
    state.mp_payments[pay_token] = MpPayment(
        pay_token=pay_token, id=len(state.mp_payments) + 1, created_ms=int(now.timestamp() * 1000), txnid=txnid(now)
    )
    return web.json_response({"message": "Payment request successfully initiated", "data": {"payToken": pay_token}})


async def mp_pay(request: web.Request) -> web.Response:
    """Push the payment to the subscriber's phone: 200 PENDING, or 417 with a French message."""
    if (denied := mp_unauthorized(request)) is not None:
        return denied
    try:
        body = MpPayRequest.model_validate_json(await request.read())
    except ValidationError as invalid:
        where, _ = first_error(invalid)
        return mp_error(MP_FIELD_MESSAGES.get(where, "Requête invalide : corps JSON attendu."))
    payment = request.app[ORANGE].mp_payments.get(body.payToken)
    if payment is None:
        return mp_error("Le payToken fourni est inconnu.")
    if payment.order is not None:
        return mp_error("Ce payToken a déjà été utilisé pour un paiement.")
    control = request.app[CONTROL]
    payment.order, payment.plan = body, mp_plan_for(body.subscriberMsisdn)
    payment.due_at = due_time(payment.plan.delay, loop_time(), control)
    if body.notifUrl is not None and payment.due_at is not None:
        request.app[DISPATCHER].schedule(payment.due_at, partial(_mp_notice, payment))
    log.info("orange sandbox: mp pay %s subscriber %s -> %s", body.payToken, body.subscriberMsisdn, payment.plan)
    data = mp_data(payment, loop_time())
    return web.json_response({"message": "Merchant payment successfully initiated", "data": data})


def _mp_notice(payment: MpPayment) -> Notice | None:
    body = mp_notification(payment, loop_time())
    if body is None or payment.order is None or payment.order.notifUrl is None:
        return None
    return Notice("POST", payment.order.notifUrl, body)


async def mp_payment_status(request: web.Request) -> web.Response:
    if (denied := mp_unauthorized(request)) is not None:
        return denied
    payment = request.app[ORANGE].mp_payments.get(request.match_info["pay_token"])
    if payment is None:
        return mp_error("Aucune transaction ne correspond à ce payToken.")
    return web.json_response({"message": "Transaction retrieved successfully", "data": mp_data(payment, loop_time())})
