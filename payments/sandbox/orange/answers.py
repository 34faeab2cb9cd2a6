"""How the Orange sandbox answers a refusal, as each of Orange's APIs does, and the tokens it issues and checks."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from payments.sandbox.control import CONTROL, CONTROL_ROUTE, loop_time
from payments.sandbox.orange.state import ORANGE, WEBPAY_PAGE
from payments.sandbox.tokens import TokenCheck, TokenStore, basic_credentials, bearer_token, user_and_secret


def gateway_error(status: int, code: int, message: str, description: str) -> web.Response:
    """Errors of Orange's API gateway (api.orange.com) have this shape."""
    return web.json_response({"code": code, "message": message, "description": description}, status=status)


def too_many_requests() -> web.Response:
    """The gateway's answer over the application's rate: 403, code 53 (as transcribed from Orange's error-handling
    page; the description's wording is ours)."""
    return gateway_error(403, 53, "Too many requests", "The application has made too many calls and has exceeded "
                         "the spike arrest limit.")


def failure(status: int) -> web.Response:
    """The gateway's answer during an outage (503, 500), or over the application's rate (asked for as 429, the
    generic gate's throttle: Orange's own is a 403)."""
    if status == 429:
        return too_many_requests()
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
    token = store.issue(loop_time(), lifetime, control.token_generation)
    request.app[ORANGE].token_clients[token] = application_of(request)
    return token


def application_of(request: web.Request) -> str:
    """Which application a request is of: the client id of a token request, the one a token was issued to."""
    authorization = request.headers.get("Authorization")
    if (credentials := basic_credentials(authorization)) is not None:
        return credentials[0]
    token = bearer_token(authorization) or ""
    return request.app[ORANGE].token_clients.get(token, token)


@web.middleware
async def request_cap(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Orange's gateway counts an application's requests to every API together (token, WebPay, mp): over
    `SandboxControl.orange_requests_per_second` in a second, 403 with code 53. The payer's page is not the API."""
    route = request.match_info.route
    if request.match_info.http_exception is not None or route.name in (CONTROL_ROUTE, WEBPAY_PAGE):
        return await handler(request)
    cap = request.app[CONTROL].orange_requests_per_second
    if request.app[ORANGE].over_request_cap(cap, loop_time(), application_of(request)):
        return too_many_requests()
    return await handler(request)




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
