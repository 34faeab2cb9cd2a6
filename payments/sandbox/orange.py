"""A local Orange Money that real Orange clients can talk to unchanged: the WebPay API (token, webpayment,
a payment page, notification, transactionstatus) and Orange Cameroon's USSD-push merchant payment API ("mp":
token, init, pay, paymentstatus, notification), with their quirks (string `expires_in`, 417 with French
messages, `SUCCESSFULL`). Mounted at `/orange`, so both clients' base URL is `http://host:port/orange`."""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from payments.sandbox.control import (
    CONTROL,
    DISPATCHER,
    Delay,
    Notice,
    Plan,
    SandboxControl,
    TokenCheck,
    TokenStore,
    basic_credentials,
    bearer_token,
    due_time,
    first_error,
    gate,
    install,
    is_due,
    loop_time,
    user_and_secret,
    whole_seconds,
)

log = logging.getLogger(__name__)

WEBPAY_TOKEN_LIFETIME = 7_776_000.0  # 90 days, what Orange's OAuth answers
MP_TOKEN_LIFETIME = 3600.0
MP_PREFIX = "/omcoreapis/1.0.2/mp"
WEBPAY_PAGE = "webpay_page"
TERMINAL_WEBPAY = ("SUCCESS", "FAILED", "EXPIRED")

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=255)]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+\S*$")]
Digits = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*$")]
LocalMsisdn = Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]  # 9 local digits, no 237 prefix

# USSD-push outcomes by the subscriber number's last three digits: the same suffixes as MTN's magic numbers,
# so one table serves both (and a demo number like 690000001 simply succeeds). Reason = the French message.
MP_MAGIC_NUMBERS: dict[str, Plan] = {
    "450": Plan("FAILED", "Echec du paiement : erreur interne du système Orange Money.", Delay.SHORT),
    "451": Plan("CANCELLED", "Paiement annulé par l'abonné.", Delay.SHORT),
    "452": Plan("EXPIRED", "Le délai de confirmation du paiement par l'abonné a expiré.", Delay.SHORT),
    "453": Plan("PENDING", None, Delay.NEVER),
    "454": Plan("SUCCESSFULL", "Paiement effectué avec succès.", Delay.LONG),
    "455": Plan("FAILED", "Echec du paiement : abonné Orange Money introuvable.", Delay.SHORT),
}
MP_ANY_OTHER = Plan("SUCCESSFULL", "Paiement effectué avec succès.", Delay.SHORT)

# French 417 messages for the first invalid field of an mp/pay body.
MP_FIELD_MESSAGES = {
    "subscriberMsisdn": "Le numéro de l'abonné (subscriberMsisdn) est invalide : 9 chiffres attendus, sans 237.",
    "channelUserMsisdn": "Le numéro du marchand (channelUserMsisdn) est invalide : 9 chiffres attendus, sans 237.",
    "amount": "Le montant (amount) est invalide : une chaîne de chiffres est attendue.",
    "pin": "Le code PIN (pin) est manquant ou invalide.",
    "payToken": "Le payToken est manquant.",
    "orderId": "L'identifiant de commande (orderId) est manquant.",
    "description": "La description est manquante.",
    "notifUrl": "L'URL de notification (notifUrl) est invalide.",
}


class WebPaymentRequest(BaseModel):
    """`webpayment` body, strict: `amount` is a JSON number here (unlike MTN and mp, where it is a string)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    merchant_key: NonEmpty
    currency: Literal["OUV", "XAF", "XOF"]
    order_id: NonEmpty
    amount: Annotated[float, Field(gt=0)]
    return_url: HttpUrl
    cancel_url: HttpUrl
    notif_url: HttpUrl
    lang: Literal["fr", "en"]
    reference: str = ""


class TransactionStatusRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    order_id: NonEmpty
    amount: float
    pay_token: NonEmpty


class MpPayRequest(BaseModel):
    """`mp/pay` body, strict: `amount` is a string of digits, numbers are 9 local digits."""

    model_config = ConfigDict(extra="ignore", strict=True)

    subscriberMsisdn: LocalMsisdn
    channelUserMsisdn: LocalMsisdn
    amount: Digits
    description: NonEmpty
    orderId: NonEmpty
    pin: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,6}$")]
    payToken: NonEmpty
    notifUrl: HttpUrl | None = None


@dataclass
class WebPayment:
    """One WebPay payment. `outcome`/`due_at` hold the decided or auto-scheduled outcome; see `webpay_status`."""

    pay_token: str
    notif_token: str
    country: str
    request: WebPaymentRequest
    expires_at: float
    txnid: str
    opened: bool = False
    outcome: str | None = None
    due_at: float | None = None


@dataclass
class MpPayment:
    """One USSD-push payment: created by init (no order yet), then paid once."""

    pay_token: str
    id: int
    created_ms: int
    txnid: str
    order: MpPayRequest | None = None
    plan: Plan | None = None
    due_at: float | None = None


@dataclass
class OrangeState:
    webpay_tokens: TokenStore = field(default_factory=TokenStore)
    mp_tokens: TokenStore = field(default_factory=TokenStore)
    webpayments: dict[str, WebPayment] = field(default_factory=dict)  # by pay_token
    orders: dict[tuple[str, str], str] = field(default_factory=dict)  # (merchant_key, order_id) -> pay_token
    mp_payments: dict[str, MpPayment] = field(default_factory=dict)  # by payToken


ORANGE = web.AppKey("orange_sandbox", OrangeState)


# --- pure logic: WebPay --------------------------------------------------------------------------------------


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


# --- pure logic: USSD push (mp) ------------------------------------------------------------------------------


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


def txnid(now: datetime) -> str:
    """An Orange-looking transaction id, e.g. MP261121.0545.B12345."""
    letter = secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
    return f"MP{now:%y%m%d.%H%M}.{letter}{secrets.randbelow(10**5):05d}"


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


# --- answers -------------------------------------------------------------------------------------------------


def gateway_error(status: int, code: int, message: str, description: str) -> web.Response:
    """Errors of Orange's API gateway (api.orange.com) have this shape."""
    return web.json_response({"code": code, "message": message, "description": description}, status=status)


def failure(status: int) -> web.Response:
    if status == 503:
        return gateway_error(503, 5, "Service unavailable", "The service is temporarily unavailable, retry later.")
    return gateway_error(500, 1, "Internal error", "An internal error occurred while processing the request.")


def webpay_error(status: int, message: str, description: str) -> web.Response:
    """WebPay's business errors, shaped like its success envelope (`status`, `message`). The exact wording
    of the real service's errors is not documented; clients should act on the HTTP status."""
    return web.json_response({"status": status, "message": message, "description": description}, status=status)


def mp_error(message: str, status: int = 417) -> web.Response:
    return web.json_response({"message": message, "data": None}, status=status)


def oauth_error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


async def issue_token(request: web.Request, store: TokenStore, lifetime: float) -> str | web.Response:
    """OAuth client-credentials: Basic id:secret and form grant_type=client_credentials, or the OAuth error."""
    control = request.app[CONTROL]
    if basic_credentials(request.headers.get("Authorization")) is None or control.reject_credentials:
        return oauth_error(401, "invalid_client", "Client authentication failed: invalid client_id or secret.")
    grant = (await request.post()).get("grant_type")
    if grant is None:
        return oauth_error(400, "invalid_request", "Missing grant_type parameter value.")
    if grant != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported.")
    return store.issue(loop_time(), lifetime, control.token_generation)


def webpay_unauthorized(request: web.Request) -> web.Response | None:
    control = request.app[CONTROL]
    token = bearer_token(request.headers.get("Authorization"))
    check = request.app[ORANGE].webpay_tokens.check(token, loop_time(), control.token_generation)
    if check is TokenCheck.MISSING:
        return gateway_error(401, 40, "Missing credentials", "The requested service needs credentials, none given.")
    if check is TokenCheck.UNKNOWN:
        return gateway_error(401, 41, "Invalid credentials", "The credentials provided were invalid.")
    if check is TokenCheck.EXPIRED:
        return gateway_error(401, 42, "Expired credentials", "The credentials provided were out-of-date.")
    return None


def mp_unauthorized(request: web.Request) -> web.Response | None:
    """The Cameroon gateway (WSO2) checks the Bearer token; the backend then wants X-AUTH-TOKEN, the base64 of
    the API username:password."""
    control = request.app[CONTROL]
    token = bearer_token(request.headers.get("Authorization"))
    check = request.app[ORANGE].mp_tokens.check(token, loop_time(), control.token_generation)
    if check is not TokenCheck.VALID:
        missing = check is TokenCheck.MISSING
        code, message = (900902, "Missing Credentials") if missing else (900901, "Invalid Credentials")
        description = f"{message}. Make sure your API invocation call has a valid access token."
        return web.json_response({"fault": {"code": code, "message": message, "description": description}}, status=401)
    if user_and_secret(request.headers.get("X-AUTH-TOKEN", "")) is None:
        return mp_error("Accès refusé : X-AUTH-TOKEN manquant ou invalide (base64 de username:password).", 401)
    return None


# --- handlers: WebPay ----------------------------------------------------------------------------------------


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


# --- handlers: USSD push (mp) --------------------------------------------------------------------------------


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


def create_orange_sandbox(control: SandboxControl | None = None) -> web.Application:
    """The Orange sandbox app (WebPay and mp); pass a shared `SandboxControl` to steer it with the MTN one."""
    app = web.Application(middlewares=[gate(failure)])
    app[ORANGE] = OrangeState()
    install(app, control or SandboxControl())
    router = app.router
    router.add_post("/oauth/v3/token", webpay_token)
    router.add_post("/orange-money-webpay/{country:[a-z]{2,3}}/v1/webpayment", create_webpayment)
    router.add_post("/orange-money-webpay/{country:[a-z]{2,3}}/v1/transactionstatus", transaction_status)
    page = router.add_resource("/webpay/pay/{pay_token}", name=WEBPAY_PAGE)
    page.add_route("GET", webpay_page)
    page.add_route("POST", webpay_decide)
    router.add_post("/token", mp_token)
    router.add_post(f"{MP_PREFIX}/init", mp_init)
    router.add_post(f"{MP_PREFIX}/pay", mp_pay)
    router.add_get(f"{MP_PREFIX}/paymentstatus/{{pay_token}}", mp_payment_status)
    return app
