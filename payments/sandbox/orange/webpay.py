"""Orange's WebPay, faked: a payment's status over time, its notification, and the API and payment page."""

from __future__ import annotations

import html
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
    Notice,
    first_error,
    loop_time,
    whole_seconds,
)
from payments.sandbox.orange.answers import issue_token, webpay_error, webpay_unauthorized
from payments.sandbox.orange.state import (
    ORANGE,
    TERMINAL_WEBPAY,
    WEBPAY_PAGE,
    WEBPAY_TOKEN_LIFETIME,
    TransactionStatusRequest,
    WebPayment,
    WebPaymentRequest,
    txnid,
)

log = logging.getLogger(__name__)


def webpay_status(payment: WebPayment, now: float) -> str:
    """INITIATED until the payer opens the page, then PENDING; the decided outcome once due, unless the
    payment expired first (then EXPIRED for good)."""
    if payment.outcome is not None and payment.due_at is not None and payment.due_at <= min(now, payment.expires_at):
        return payment.outcome
    if now >= payment.expires_at:
        return "EXPIRED"
    return "PENDING" if payment.opened else "INITIATED"


def decide_webpay(payment: WebPayment, outcome: str, now: float) -> bool:
    """The payer pressed Pay or Cancel: takes effect now unless the payment is already final. True if decided."""
    if webpay_status(payment, now) in TERMINAL_WEBPAY:
        return False
    payment.outcome, payment.due_at = outcome, now
    return True


def webpay_notification(payment: WebPayment, now: float) -> dict[str, Any] | None:
    """The body POSTed to notif_url, or None when there is nothing to notify (Orange sends no EXPIRED notice)."""
    status = webpay_status(payment, now)
    if status not in ("SUCCESS", "FAILED"):
        return None
    body: dict[str, Any] = {"status": status, "notif_token": payment.notif_token}
    if status == "SUCCESS":
        body["txnid"] = payment.txnid
    return body


def webpay_status_body(payment: WebPayment, now: float) -> dict[str, Any]:
    status = webpay_status(payment, now)
    body: dict[str, Any] = {"status": status, "order_id": payment.request.order_id}
    if status == "SUCCESS":
        body["txnid"] = payment.txnid
    return body


def currency_problem(country: str, currency: str) -> str | None:
    """Orange's dev environment only takes its test currency OUV; live countries take XAF/XOF."""
    if country == "dev" and currency != "OUV":
        return "currency must be OUV in the dev environment"
    if country != "dev" and currency == "OUV":
        return "currency OUV is only accepted in the dev environment"
    return None




async def webpay_token(request: web.Request) -> web.Response:
    lifetime = request.app[CONTROL].token_lifetime or WEBPAY_TOKEN_LIFETIME
    token = await issue_token(request, request.app[ORANGE].webpay_tokens, lifetime)
    if isinstance(token, web.Response):
        return token
    # expires_in is a string in Orange's real answer.
    answer = {"token_type": "Bearer", "access_token": token, "expires_in": str(whole_seconds(lifetime))}
    return web.json_response(answer)


async def create_webpayment(request: web.Request) -> web.Response:
    """201 with pay_token, payment_url and notif_token. A reused order_id (per merchant_key) answers 409: Orange
    refuses duplicates but documents no code; a client must not retry a 4xx blindly either way."""
    if (denied := webpay_unauthorized(request)) is not None:
        return denied
    country = request.match_info["country"]
    try:
        body = WebPaymentRequest.model_validate_json(await request.read())
    except ValidationError as invalid:
        where, message = first_error(invalid)
        return webpay_error(400, "Bad Request", f"{where}: {message}")
    if (problem := currency_problem(country, body.currency)) is not None:
        return webpay_error(400, "Bad Request", problem)
    state = request.app[ORANGE]
    if (body.merchant_key, body.order_id) in state.orders:
        return webpay_error(409, "Conflict", f"order_id {body.order_id} has already been used for this merchant_key.")
    payment = _store_webpayment(request, country, body)
    page = request.app.router[WEBPAY_PAGE].url_for(pay_token=payment.pay_token)
    answer = {
        "status": 201,
        "message": "OK",
        "pay_token": payment.pay_token,
        "payment_url": str(request.url.origin().join(page)),
        "notif_token": payment.notif_token,
    }
    return web.json_response(answer, status=201)


def _store_webpayment(request: web.Request, country: str, body: WebPaymentRequest) -> WebPayment:
    """Record the payment; with webpay_auto_outcome set, schedule its outcome and notification."""
    control = request.app[CONTROL]
    now = loop_time()
    payment = WebPayment(
        pay_token=f"v1{secrets.token_hex(24)}",
        notif_token=secrets.token_hex(16),
        country=country,
        request=body,
        expires_at=now + control.webpay_expiry,
        txnid=txnid(datetime.now(UTC)),
    )
    state = request.app[ORANGE]
    state.webpayments[payment.pay_token] = payment
    state.orders[(body.merchant_key, body.order_id)] = payment.pay_token
    if control.webpay_auto_outcome is not None:
        payment.outcome, payment.due_at = control.webpay_auto_outcome, now + control.success_delay
        _notify_webpay(request.app, payment, payment.due_at)
    log.info("orange sandbox: webpayment %s order %s", payment.pay_token, body.order_id)
    return payment


def _notify_webpay(app: web.Application, payment: WebPayment, at: float) -> None:
    app[DISPATCHER].schedule(at, partial(_webpay_notice, payment, at))


def _webpay_notice(payment: WebPayment, scheduled_for: float) -> Notice | None:
    """Nothing if the outcome changed since scheduling (the payer decided before the auto outcome)."""
    if payment.due_at != scheduled_for:
        return None
    body = webpay_notification(payment, loop_time())
    return None if body is None else Notice("POST", payment.request.notif_url, body)


async def transaction_status(request: web.Request) -> web.Response:
    if (denied := webpay_unauthorized(request)) is not None:
        return denied
    try:
        body = TransactionStatusRequest.model_validate_json(await request.read())
    except ValidationError as invalid:
        where, message = first_error(invalid)
        return webpay_error(400, "Bad Request", f"{where}: {message}")
    payment = request.app[ORANGE].webpayments.get(body.pay_token)
    if (
        payment is None
        or payment.country != request.match_info["country"]
        or payment.request.order_id != body.order_id
        or payment.request.amount != body.amount
    ):
        return webpay_error(404, "Not Found", "No payment matches this order_id, amount and pay_token.")
    return web.json_response(webpay_status_body(payment, loop_time()))


async def webpay_page(request: web.Request) -> web.Response:
    """The payer's page: what is being paid, and Pay / Cancel buttons. Opening it moves INITIATED to PENDING."""
    payment = request.app[ORANGE].webpayments.get(request.match_info["pay_token"])
    if payment is None:
        page = _html("Paiement introuvable", "<p>Ce lien de paiement est inconnu.</p>")
        return web.Response(status=404, text=page, content_type="text/html")
    payment.opened = True
    status = webpay_status(payment, loop_time())
    return web.Response(text=_page(payment, status), content_type="text/html")


def _page(payment: WebPayment, status: str) -> str:
    body = payment.request
    amount = f"{body.amount:g} {body.currency}"
    rows = f"<p>{html.escape(body.reference)}</p><p>Commande {html.escape(body.order_id)} : {html.escape(amount)}</p>"
    if status in TERMINAL_WEBPAY:
        return _html("Orange Money (sandbox)", f"{rows}<p>Statut : {status}</p>")
    action = html.escape(f"./{payment.pay_token}")
    forms = "".join(
        f'<form method="post" action="{action}"><input type="hidden" name="decision" value="{value}">'
        f'<button type="submit">{label}</button></form>'
        for value, label in (("pay", "Pay"), ("cancel", "Cancel"))
    )
    return _html("Orange Money (sandbox)", rows + forms)


def _html(title: str, content: str) -> str:
    head = f"<head><meta charset='utf-8'><title>{title}</title></head>"
    return f"<!doctype html><html>{head}<body><h1>{title}</h1>{content}</body></html>"


async def webpay_decide(request: web.Request) -> web.Response:
    """The payer's choice: decide (notifying notif_url) and redirect to return_url or cancel_url."""
    payment = request.app[ORANGE].webpayments.get(request.match_info["pay_token"])
    if payment is None:
        raise web.HTTPNotFound(text="unknown pay_token")
    decision = (await request.post()).get("decision")
    if decision not in ("pay", "cancel"):
        raise web.HTTPBadRequest(text="decision must be pay or cancel")
    now = loop_time()
    if decide_webpay(payment, "SUCCESS" if decision == "pay" else "FAILED", now):
        _notify_webpay(request.app, payment, now)
    success = webpay_status(payment, now) == "SUCCESS"
    raise web.HTTPFound(payment.request.return_url if success else payment.request.cancel_url)
