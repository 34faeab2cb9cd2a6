"""A local Orange Money that real Orange clients can talk to unchanged: the WebPay API (token, webpayment,
a payment page, notification, transactionstatus) and Orange Cameroon's USSD-push merchant payment API ("mp":
token, init, pay, paymentstatus, notification), with their quirks (string `expires_in`, 417 with French
messages, `SUCCESSFULL`). Mounted at `/orange`, so both clients' base URL is `http://host:port/orange`."""

from __future__ import annotations

from aiohttp import web

from payments.sandbox.control import SandboxControl, provider_app
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
    app = provider_app(failure, control, [
        web.post("/oauth/v3/token", webpay_token),
        web.post("/orange-money-webpay/{country:[a-z]{2,3}}/v1/webpayment", create_webpayment),
        web.post("/orange-money-webpay/{country:[a-z]{2,3}}/v1/transactionstatus", transaction_status),
        web.get("/webpay/pay/{pay_token}", webpay_page, name=WEBPAY_PAGE, allow_head=False),
        web.post("/webpay/pay/{pay_token}", webpay_decide, name=WEBPAY_PAGE),
        web.post("/token", mp_token),
        web.post(f"{MP_PREFIX}/init", mp_init),
        web.post(f"{MP_PREFIX}/pay", mp_pay),
        web.get(f"{MP_PREFIX}/paymentstatus/{{pay_token}}", mp_payment_status),
    ], before=[request_cap])
    app[ORANGE] = OrangeState()
    return app
