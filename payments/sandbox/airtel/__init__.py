"""A local Airtel Africa Open API that a real Airtel client can talk to unchanged: its OAuth2 token (a JSON body,
`expires_in` as a string), the Collection API's USSD push and enquiry, the callback to the application's configured
URL (hashed with its key), and the Disbursement API's payouts and enquiry. Mounted at `/airtel`, so a client's base
URL is `http://host:port/airtel`. Outcomes come from the wallet number's last three digits (`GET /` of the sandbox);
delays, lost and duplicated callbacks, 5xx bursts and lost answers from the shared `SandboxControl`; the application's
callback URL and key from `POST /airtel/_app` (Airtel's portal), or SANDBOX_AIRTEL_CALLBACK_URL / PUBLIC_BASE_URL."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from payments.sandbox.airtel.state import AIRTEL, ANY_OTHER, MAGIC_NUMBERS, MESSAGES, TOKEN_LIFETIME, AirtelState
from payments.sandbox.airtel.transactions import enquiry, failure, payout, payout_enquiry, push
from payments.sandbox.control import CONTROL, Delay, Plan, SandboxControl, loop_time, provider_app, whole_seconds


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    client_id: str
    client_secret: str
    grant_type: str


class AppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    callback_url: str | None = None
    callback_key: str | None = None


async def token(request: web.Request) -> web.Response:
    """`POST /auth/oauth2/token` with a JSON body; refused credentials answer 401 invalid_client."""
    try:
        asked = TokenRequest.model_validate_json(await request.read())
    except ValidationError:
        return web.json_response({"error": "invalid_request"}, status=400)
    control = request.app[CONTROL]
    if (not asked.client_id or not asked.client_secret or asked.grant_type != "client_credentials"
            or control.reject_credentials):
        return web.json_response({"error": "invalid_client", "error_description": "Client authentication failed"},
                                 status=401)
    lifetime = control.token_lifetime or TOKEN_LIFETIME
    issued = request.app[AIRTEL].tokens.issue(loop_time(), lifetime, control.token_generation)
    return web.json_response({"access_token": issued, "expires_in": str(whole_seconds(lifetime)),
                              "token_type": "bearer"})


async def application(request: web.Request) -> web.Response:
    """`POST /_app {"callback_url", "callback_key"}`: the application's settings in Airtel's portal (a null key
    switches callback authentication off)."""
    try:
        changes = AppSettings.model_validate_json(await request.read())
    except ValidationError as error:
        return web.json_response({"error": "invalid_app", "detail": error.errors(include_url=False)}, status=400)
    state = request.app[AIRTEL]
    if changes.callback_url is not None:
        state.callback_url = changes.callback_url
    if "callback_key" in changes.model_fields_set:
        state.callback_key = changes.callback_key
    return web.json_response({"callback_url": state.callback_url, "callback_key": state.callback_key})


def describe_magic_numbers() -> dict[str, str]:
    table = {f"ending {suffix}": describe(plan) for suffix, plan in MAGIC_NUMBERS.items()}
    table["ending 457"] += "; TF to enquiries (a reversal)"
    table["any other"] = describe(ANY_OTHER)
    return table


def describe(plan: Plan) -> str:
    what = f"{plan.status} {plan.reason} ({MESSAGES.get(str(plan.reason), '')})"
    if plan.delay is Delay.NEVER:
        return f"{what} for good, no callback"
    return f"{what} after {'long_delay' if plan.delay is Delay.LONG else 'success_delay'}"


def create_airtel_sandbox(control: SandboxControl | None = None) -> web.Application:
    app = provider_app(failure, control, [
        web.post("/auth/oauth2/token", token),
        web.post("/merchant/v1/payments/", push),
        web.get("/standard/v1/payments/{id}", enquiry),
        web.post("/standard/v1/disbursements/", payout),
        web.get("/standard/v1/disbursements/{id}", payout_enquiry),
        web.post("/_app", application),
    ])
    app[AIRTEL] = AirtelState()
    return app
