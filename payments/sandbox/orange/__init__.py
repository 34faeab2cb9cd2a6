"""A local Orange Money that real Orange clients can talk to unchanged: the WebPay API (token, webpayment,
a payment page, notification, transactionstatus) and Orange Cameroon's USSD-push merchant payment API ("mp":
token, init, pay, paymentstatus, notification), with their quirks (string `expires_in`, 417 with French
messages, `SUCCESSFULL`). Mounted at `/orange`, so both clients' base URL is `http://host:port/orange`."""

from __future__ import annotations

from aiohttp import web

from payments.sandbox.control import SandboxControl, gate, install
from payments.sandbox.orange.answers import failure, request_cap
from payments.sandbox.orange.state import MP_PREFIX, ORANGE, WEBPAY_PAGE, OrangeState
from payments.sandbox.orange.ussd_push import mp_init, mp_pay, mp_payment_status, mp_token
from payments.sandbox.orange.webpay import (
    create_webpayment,
    transaction_status,
    webpay_decide,
    webpay_page,
    webpay_token,
)


def create_orange_sandbox(control: SandboxControl | None = None) -> web.Application:
    """The Orange sandbox app (WebPay and mp); pass a shared `SandboxControl` to steer it with the MTN one."""
    app = web.Application(middlewares=[request_cap, gate(failure)])
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
