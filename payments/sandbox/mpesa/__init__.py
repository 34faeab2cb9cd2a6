"""A local M-Pesa (Safaricom Daraja) that real Daraja clients can talk to unchanged: OAuth, STK Push with its query
and callback (one open prompt per phone, 500.001.1001 for a second), the money out (Reversal, B2C) with their
results on the ResultURL, the Transaction Status query that finds one whose result was lost, and Pull
Transactions (the shortcode's C2B payments, for the money check), and C2B: a paybill's URLs registered and a payment
from the M-Pesa menu simulated (validation, then confirmation). Mounted at
`/mpesa`, so a client's base URL is `http://host:port/mpesa`."""

from __future__ import annotations

from aiohttp import web

from payments.sandbox.control import SandboxControl, provider_app
from payments.sandbox.mpesa import c2b, pull
from payments.sandbox.mpesa.money_out import b2c, certificate, paid_out, reversal
from payments.sandbox.mpesa.state import MPESA, MpesaState, describe_magic_numbers, failure
from payments.sandbox.mpesa.stk_push import generate_token, process_request, query
from payments.sandbox.mpesa.transaction_status import transaction_status

__all__ = ["create_mpesa_sandbox", "describe_magic_numbers"]


def create_mpesa_sandbox(control: SandboxControl | None = None) -> web.Application:
    """The M-Pesa sandbox app; pass a shared `SandboxControl` to steer it with the others."""
    app = provider_app(failure, control, [
        web.get("/oauth/v1/generate", generate_token),
        web.post("/mpesa/stkpush/v1/processrequest", process_request),
        web.post("/mpesa/stkpushquery/v1/query", query),
        web.post("/mpesa/reversal/v1/request", reversal),
        web.post("/mpesa/b2c/v3/paymentrequest", b2c),
        web.post("/mpesa/b2c/v1/paymentrequest", b2c),
        web.post("/mpesa/transactionstatus/v1/query", transaction_status),
        web.get("/sandbox/certificate", certificate),
        web.get("/sandbox/paid-out", paid_out),
        web.post("/pulltransactions/v1/register", pull.register),
        web.post("/pulltransactions/v1/query", pull.query),
        web.post("/sandbox/c2b", pull.paid_in),
        web.post("/mpesa/c2b/v2/registerurl", c2b.register_url),
        web.post("/mpesa/c2b/v1/registerurl", c2b.register_url),
        web.post("/mpesa/c2b/v1/simulate", c2b.simulate),
        web.post("/mpesa/c2b/v2/simulate", c2b.simulate),
    ])
    app[MPESA] = MpesaState()
    return app
