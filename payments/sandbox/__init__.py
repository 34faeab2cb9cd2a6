"""Local MTN MoMo, Orange Money, Airtel Money and M-Pesa sandboxes that real provider clients can talk to unchanged.

`create_sandbox_app()` mounts MTN at `/mtn`, Orange at `/orange`, Airtel at `/airtel` and M-Pesa at `/mpesa`;
`python -m payments.sandbox` runs it. Outcomes come from magic payer numbers (see `GET /`), behaviour switches from
`SandboxControl` (`/_control`)."""

from __future__ import annotations

from aiohttp import web

from payments.sandbox import mpesa, mtn
from payments.sandbox.airtel import create_airtel_sandbox
from payments.sandbox.airtel import describe_magic_numbers as airtel_magic_numbers
from payments.sandbox.control import CONTROL, SandboxControl, add_control_routes
from payments.sandbox.mpesa import create_mpesa_sandbox
from payments.sandbox.mtn import create_mtn_sandbox
from payments.sandbox.mtn_disbursement import add_disbursement
from payments.sandbox.orange import create_orange_sandbox
from payments.sandbox.orange.state import MP_PREFIX
from payments.sandbox.orange.ussd_push import describe_magic_numbers

__all__ = ["SandboxControl", "create_mtn_sandbox", "create_orange_sandbox", "create_sandbox_app", "describe"]


def describe(base_url: str) -> dict[str, object]:
    """What a developer needs to point clients at a running sandbox: base URLs, magic numbers, switches."""
    return {
        "mtn": {
            "base_url": f"{base_url}/mtn",
            "token": f"{base_url}/mtn/collection/token/",
            "request_to_pay": f"{base_url}/mtn/collection/v1_0/requesttopay",
            "magic_numbers (partyId, last three digits)": mtn.describe_magic_numbers(),
            "disbursement_token": f"{base_url}/mtn/disbursement/token/",
            "refund": f"{base_url}/mtn/disbursement/v1_0/refund (naming a collection's referenceIdToRefund)",
            "transfer": f"{base_url}/mtn/disbursement/v1_0/transfer (the payee's magic numbers as a payer's)",
            "control": f"{base_url}/mtn/_control",
        },
        "orange": {
            "base_url": f"{base_url}/orange",
            "webpay_token": f"{base_url}/orange/oauth/v3/token",
            "webpay": f"{base_url}/orange/orange-money-webpay/{{country}}/v1",
            "mp_token": f"{base_url}/orange/token",
            "mp": f"{base_url}/orange{MP_PREFIX}",
            "magic_numbers": describe_magic_numbers(),
            "control": f"{base_url}/orange/_control",
        },
        "airtel": {
            "base_url": f"{base_url}/airtel",
            "token": f"{base_url}/airtel/auth/oauth2/token",
            "push": f"{base_url}/airtel/merchant/v1/payments/",
            "disbursements": f"{base_url}/airtel/standard/v1/disbursements/",
            "magic_numbers (wallet number, last three digits)": airtel_magic_numbers(),
            "application": f"{base_url}/airtel/_app (POST its callback_url and callback_key, as Airtel's portal)",
        },
        "mpesa": {
            "base_url": f"{base_url}/mpesa",
            "token": f"{base_url}/mpesa/oauth/v1/generate?grant_type=client_credentials",
            "stk_push": f"{base_url}/mpesa/mpesa/stkpush/v1/processrequest (BusinessShortCode 174379, Daraja's "
                        "test passkey)",
            "stk_query": f"{base_url}/mpesa/mpesa/stkpushquery/v1/query",
            "magic_numbers (PhoneNumber, last three digits)": mpesa.describe_magic_numbers(),
            "reversal": f"{base_url}/mpesa/mpesa/reversal/v1/request (a paid prompt's MpesaReceiptNumber)",
            "b2c": f"{base_url}/mpesa/mpesa/b2c/v3/paymentrequest (payee ending 451 refused; once per "
                   "OriginatorConversationID)",
            "initiator": "SecurityCredential: 'Safaricom999!*!' sealed with the key at "
                         f"{base_url}/mpesa/sandbox/certificate",
            "transaction_status": f"{base_url}/mpesa/mpesa/transactionstatus/v1/query (a reversal's or B2C "
                                  "payment's OriginalConversationID or receipt; _control mpesa_lose_results_next "
                                  "loses results it alone then finds)",
            "paid_out": f"{base_url}/mpesa/sandbox/paid-out",
            "pull_transactions": f"{base_url}/mpesa/pulltransactions/v1/register and /query (the last 48 hours' "
                                 "C2B payments)",
            "c2b": f"{base_url}/mpesa/sandbox/c2b (POST phone, amount, bill_reference: a payment into the "
                   "paybill that no prompt asked for)",
            "control": f"{base_url}/mpesa/_control",
        },
        "control": f"{base_url}/_control (GET the switches, POST a JSON partial update)",
    }


async def index(request: web.Request) -> web.Response:
    return web.json_response(describe(str(request.url.origin())))


def create_sandbox_app(control: SandboxControl | None = None) -> web.Application:
    """Every sandbox in one app, sharing one `SandboxControl` (also at `/_control`)."""
    control = control or SandboxControl()
    app = web.Application()
    app[CONTROL] = control
    app.router.add_get("/", index)
    add_control_routes(app)
    momo = create_mtn_sandbox(control)
    add_disbursement(momo)  # MTN's second product, on the same host as MTN serves both
    app.add_subapp("/mtn", momo)
    app.add_subapp("/orange", create_orange_sandbox(control))
    app.add_subapp("/airtel", create_airtel_sandbox(control))
    app.add_subapp("/mpesa", create_mpesa_sandbox(control))
    return app
