"""A local MTN MoMo Open API (Collection) that a real MTN client can talk to unchanged: same paths, headers,
bodies, status codes and quirks (500 on bad login, 202 with an empty body, 409 on a reused reference,
unsigned callbacks by PUT), with MTN's magic sandbox payer numbers deciding each outcome, and MTN's cap on
status GETs per account (API user): over it, 429 (`SandboxControl.status_calls_per_second`; the command
line's default is MTN's 10).

Mounted at `/mtn`, so a client's base URL is `http://host:port/mtn`."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiohttp import web

from payments.sandbox.control import (
    CONTROL,
    DISPATCHER,
    Delay,
    Notice,
    Plan,
    SandboxControl,
    due_time,
    is_due,
    loop_time,
    provider_app,
    whole_seconds,
)
from payments.sandbox.mtn_requests import (
    UUID,
    MoneyRequest,
    Payer,
    error,
    read_money_request,
    target_environment,
)
from payments.sandbox.tokens import TokenCheck, TokenStore, basic_credentials, bearer_token

log = logging.getLogger(__name__)

DEFAULT_TOKEN_LIFETIME = 3600.0


# MTN's sandbox payer numbers are 46733123450..455; only their last three digits are compared, so a real-looking
# Cameroonian number such as 237670000451 triggers the same outcome. Failures are decided after success_delay.
MAGIC_NUMBERS: dict[str, Plan] = {
    "450": Plan("FAILED", "INTERNAL_PROCESSING_ERROR", Delay.SHORT),
    "451": Plan("FAILED", "APPROVAL_REJECTED", Delay.SHORT),
    "452": Plan("FAILED", "EXPIRED", Delay.SHORT),
    "453": Plan("PENDING", None, Delay.NEVER),
    "454": Plan("SUCCESSFUL", None, Delay.LONG),
    "455": Plan("FAILED", "PAYER_NOT_FOUND", Delay.SHORT),
}
ANY_OTHER = Plan("SUCCESSFUL", None, Delay.SHORT)
DECLINED = Plan("FAILED", "INTERNAL_PROCESSING_ERROR", Delay.SHORT)  # `decline_share` of the ordinary payments
# Not MTN's: the callback says SUCCESSFUL, the status GET then FAILED (tests the reversal of a callback-counted vote).
DISAGREEING = "457"
MAGIC_NUMBERS[DISAGREEING] = Plan("SUCCESSFUL", None, Delay.SHORT)

# The real sandbox accepts only EUR. This one also stands in for production (MTN Cameroon / Côte d'Ivoire),
# so it accepts the currencies our contests are priced in as well.
CURRENCIES = ("XAF", "XOF", "EUR")




class RequestToPay(MoneyRequest):
    payer: Payer


@dataclass
class Collection:
    """One request to pay as MTN stores it; its status is a function of time (see `status_body`)."""

    reference: str
    environment: str
    request: RequestToPay
    plan: Plan
    due_at: float | None
    transaction_id: str
    callback_url: str | None


@dataclass
class MtnState:
    tokens: TokenStore = field(default_factory=TokenStore)
    collections: dict[str, Collection] = field(default_factory=dict)
    api_users: dict[str, str] = field(default_factory=dict)  # sandbox provisioning: user id -> callback host
    api_keys: dict[str, str] = field(default_factory=dict)
    token_users: dict[str, str] = field(default_factory=dict)  # access token -> the API user it was issued to
    status_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # API user -> (second, calls in it)

    def over_status_cap(self, cap: float | None, now: float, account: str = "") -> bool:
        """Count one status call of `account`; True when it is over `cap` calls in this second (MTN: 429)."""
        if not cap:
            return False
        second, calls = self.status_counts.get(account, (0, 0))
        if int(now) != second:
            second, calls = int(now), 0
        self.status_counts[account] = (second, calls + 1)
        return calls + 1 > cap


MTN = web.AppKey("mtn_sandbox", MtnState)


# --- pure logic ----------------------------------------------------------------------------------------------


def plan_for(party_id: str) -> Plan:
    """The outcome a payer number asks for (last three digits against MTN's magic numbers)."""
    return MAGIC_NUMBERS.get(party_id[-3:], ANY_OTHER)


def status_of(collection: Collection, now: float) -> str:
    return collection.plan.status if is_due(collection.due_at, now) else "PENDING"


def status_body(collection: Collection, now: float) -> dict[str, Any]:
    """The `GET requesttopay/{id}` answer, also the callback body: financialTransactionId only when SUCCESSFUL,
    reason only when FAILED."""
    request = collection.request
    status = status_of(collection, now)
    body: dict[str, Any] = {"amount": request.amount, "currency": request.currency}
    if status == "SUCCESSFUL":
        body["financialTransactionId"] = collection.transaction_id
    if request.externalId is not None:
        body["externalId"] = request.externalId
    body["payer"] = request.payer.model_dump()
    for name in ("payerMessage", "payeeNote"):
        if (value := getattr(request, name)) is not None:
            body[name] = value
    body["status"] = status
    if status == "FAILED":
        body["reason"] = collection.plan.reason
    return body


def describe_magic_numbers() -> dict[str, str]:
    table = {f"ending {suffix}": _describe(plan) for suffix, plan in MAGIC_NUMBERS.items()}
    table["any other"] = _describe(ANY_OTHER)
    return table


def _describe(plan: Plan) -> str:
    if plan is MAGIC_NUMBERS[DISAGREEING]:
        return "SUCCESSFUL in the callback after success_delay, then FAILED to status GETs (a reversal)"
    if plan.delay is Delay.NEVER:
        return "stays PENDING forever, no callback"
    outcome = f"{plan.status} {plan.reason}" if plan.reason else plan.status
    return f"{outcome} after {'long_delay' if plan.delay is Delay.LONG else 'success_delay'}"


# --- answers -------------------------------------------------------------------------------------------------


def failure(status: int) -> web.Response:
    """What MTN answers during an outage (the gate's 5xx burst) or over its rate (the gate's 429s)."""
    if status == 429:
        return rate_limited()
    if status == 503:
        return error(503, "SERVICE_UNAVAILABLE", "Service unavailable, please try again later.")
    return error(500, "INTERNAL_PROCESSING_ERROR", "An internal error occurred while processing the request.")


def rate_limited() -> web.Response:
    """Azure API Management's answer over the status-call cap (MTN: 10 a second per account)."""
    return web.json_response({"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."},
                             status=429, headers={"Retry-After": "1"})


def missing_subscription_key() -> web.Response:
    """Azure API Management's own answer, before MTN's backend sees the request."""
    message = (
        "Access denied due to missing subscription key. "
        "Make sure to include subscription key when making requests to an API."
    )
    return web.json_response({"statusCode": 401, "message": message}, status=401)


def authorize(request: web.Request, tokens: TokenStore | None = None, product: str = "collection",
              ) -> web.Response | None:
    """None when the request carries a subscription key and a live token `product` issued here (each product
    issues its own: a Collection token opens no Disbursement call); else the 401 to send."""
    if not request.headers.get("Ocp-Apim-Subscription-Key"):
        return missing_subscription_key()
    control = request.app[CONTROL]
    token = bearer_token(request.headers.get("Authorization"))
    check = (tokens or request.app[MTN].tokens).check(token, loop_time(), control.token_generation)
    if check is TokenCheck.VALID:
        return None
    return error(401, "UNAUTHORIZED", f"Access token is {check.value}: request a new one at /{product}/token/.")


# --- handlers ------------------------------------------------------------------------------------------------


async def create_token(request: web.Request) -> web.Response:
    """`POST /collection/token/` with Basic apiUser:apiKey. Bad credentials answer 500 login_failed, as MTN does."""
    return issue_token(request, request.app[MTN].tokens, request.app[MTN].token_users)


def issue_token(request: web.Request, tokens: TokenStore, token_users: dict[str, str]) -> web.Response:
    """A product's token endpoint (each MTN product issues its own tokens)."""
    if not request.headers.get("Ocp-Apim-Subscription-Key"):
        return missing_subscription_key()
    control = request.app[CONTROL]
    credentials = basic_credentials(request.headers.get("Authorization"))
    if credentials is None or control.reject_credentials:
        return web.json_response({"error": "login_failed"}, status=500)
    lifetime = control.token_lifetime or DEFAULT_TOKEN_LIFETIME
    token = tokens.issue(loop_time(), lifetime, control.token_generation)
    token_users[token] = credentials[0]  # the account its status calls count against
    answer = {"access_token": token, "token_type": "access_token", "expires_in": whole_seconds(lifetime)}
    return web.json_response(answer)


async def request_to_pay(request: web.Request) -> web.Response:
    """Accept a collection: 202 with an empty body, 409 if the reference was used, 400 on bad input."""
    if (denied := authorize(request)) is not None:
        return denied
    asked = await read_money_request(request, RequestToPay)
    if isinstance(asked, web.Response):
        return asked
    reference, environment, callback_url, body = asked.reference, asked.environment, asked.callback_url, asked.body
    state = request.app[MTN]
    if reference.lower() in state.collections:
        return error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
    collection = _store(request, reference.lower(), environment, body, callback_url)
    log.info("mtn sandbox: requesttopay %s payer %s -> %s", reference, body.payer.partyId, collection.plan)
    return web.Response(status=202)


def _store(
    request: web.Request, reference: str, environment: str, body: RequestToPay, callback_url: str | None
) -> Collection:
    """Record the collection and, if it will ever be decided and has a callback URL, schedule the callback."""
    control = request.app[CONTROL]
    plan = plan_for(body.payer.partyId)
    if plan is ANY_OTHER and control.take_declined():
        plan = DECLINED
    collection = Collection(
        reference=reference,
        environment=environment,
        request=body,
        plan=plan,
        due_at=due_time(plan.delay, loop_time(), control),
        transaction_id=str(secrets.randbelow(9 * 10**9) + 10**9),
        callback_url=callback_url,
    )
    request.app[MTN].collections[reference] = collection
    if callback_url is not None and collection.due_at is not None:
        request.app[DISPATCHER].schedule(collection.due_at, partial(_callback, collection, control))
    return collection


def _callback(collection: Collection, control: SandboxControl) -> Notice | None:
    if collection.callback_url is None:
        return None
    return Notice(control.callback_method, collection.callback_url, status_body(collection, loop_time()))


async def get_request_to_pay(request: web.Request) -> web.Response:
    if (denied := authorize(request)) is not None:
        return denied
    environment = target_environment(request)
    if isinstance(environment, web.Response):
        return environment
    state = request.app[MTN]
    account = state.token_users.get(bearer_token(request.headers.get("Authorization")) or "", "")
    if state.over_status_cap(request.app[CONTROL].status_calls_per_second, loop_time(), account):
        return rate_limited()
    collection = state.collections.get(request.match_info["reference"].lower())
    if collection is None or collection.environment != environment:
        return error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
    return web.json_response(asked_status(collection, loop_time()))


def asked_status(collection: Collection, now: float) -> dict[str, Any]:
    """A status GET's answer: the callback's body, except for the number that makes them disagree."""
    body = status_body(collection, now)
    if collection.request.payer.partyId.endswith(DISAGREEING) and body["status"] == "SUCCESSFUL":
        del body["financialTransactionId"]
        body.update(status="FAILED", reason="INTERNAL_PROCESSING_ERROR")
    return body


async def account_holder_active(request: web.Request) -> web.Response:
    """`GET …/accountholder/{type}/{id}/active`: false for the payer-not-found magic number (…455)."""
    if (denied := authorize(request)) is not None:
        return denied
    environment = target_environment(request)
    if isinstance(environment, web.Response):
        return environment
    holder = request.match_info["holder"]
    return web.json_response({"result": plan_for(holder).reason != "PAYER_NOT_FOUND"})


async def collection_balance(request: web.Request) -> web.Response:
    """`GET /collection/v1_0/account/balance`: the payments that succeeded, in the currency asked (XAF by default);
    read from the records, so an edit (`/_control/transactions`) moves it as MTN's books would."""
    if (denied := authorize(request)) is not None:
        return denied
    currency, now = request.query.get("currency", "XAF").upper(), loop_time()
    held = sum(int(collection.request.amount) for collection in request.app[MTN].collections.values()
               if collection.request.currency == currency and status_of(collection, now) == "SUCCESSFUL")
    return web.json_response({"availableBalance": str(held), "currency": currency})


async def create_api_user(request: web.Request) -> web.Response:
    """Sandbox provisioning, `POST /v1_0/apiuser`: 201 empty, 409 if the id exists."""
    if not request.headers.get("Ocp-Apim-Subscription-Key"):
        return missing_subscription_key()
    user_id = request.headers.get("X-Reference-Id", "")
    if not UUID.fullmatch(user_id):
        return error(400, "BAD_REQUEST", "Header X-Reference-Id must be a UUID.")
    try:
        host = (await request.json()).get("providerCallbackHost")
    except (ValueError, AttributeError):
        host = None
    if not isinstance(host, str) or not host:
        return error(400, "BAD_REQUEST", "providerCallbackHost is required.")
    users = request.app[MTN].api_users
    if user_id.lower() in users:
        return error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
    users[user_id.lower()] = host
    return web.Response(status=201)


async def create_api_key(request: web.Request) -> web.Response:
    if not request.headers.get("Ocp-Apim-Subscription-Key"):
        return missing_subscription_key()
    user_id = request.match_info["user"].lower()
    state = request.app[MTN]
    if user_id not in state.api_users:
        return error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
    state.api_keys[user_id] = secrets.token_hex(16)
    return web.json_response({"apiKey": state.api_keys[user_id]}, status=201)


async def get_api_user(request: web.Request) -> web.Response:
    if not request.headers.get("Ocp-Apim-Subscription-Key"):
        return missing_subscription_key()
    host = request.app[MTN].api_users.get(request.match_info["user"].lower())
    if host is None:
        return error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
    return web.json_response({"providerCallbackHost": host, "targetEnvironment": "sandbox"})


def create_mtn_sandbox(control: SandboxControl | None = None) -> web.Application:
    """The MTN sandbox app; pass a shared `SandboxControl` to steer it together with the Orange one."""
    app = provider_app(failure, control, [
        web.post("/collection/token/", create_token),
        web.post("/collection/v1_0/requesttopay", request_to_pay),
        web.get("/collection/v1_0/requesttopay/{reference}", get_request_to_pay),
        web.get("/collection/v1_0/accountholder/{kind}/{holder}/active", account_holder_active),
        web.get("/collection/v1_0/account/balance", collection_balance),
        web.post("/v1_0/apiuser", create_api_user),
        web.post("/v1_0/apiuser/{user}/apikey", create_api_key),
        web.get("/v1_0/apiuser/{user}", get_api_user),
    ])
    app[MTN] = MtnState()
    return app
