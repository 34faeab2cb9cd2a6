"""MTN MoMo's Disbursement product, beside the Collection one in the same sandbox: its own token
(`/disbursement/token/`), refunds of a collection (`/disbursement/v1_0/refund` and `v2_0`, naming the
collection's reference), transfers and deposits to a payee (`/disbursement/v1_0/transfer`, `…/deposit`), their
status GETs and callbacks, the account's balance; the same headers, bodies and quirks as the Collection product
(202 with an empty body, 409 on a reused `X-Reference-Id`, the amount a string of digits).

Outcomes: a refund of a collection this sandbox took and that succeeded is SUCCESSFUL after `success_delay`; of a
collection it does not know, or that did not succeed, FAILED (`RESOURCE_NOT_FOUND`, `NOT_ALLOWED`); more than
what is left of it, FAILED (`NOT_ENOUGH_FUNDS`, this sandbox's choice of MTN's reasons). A transfer's outcome
is the payee number's, by MTN's magic numbers (see `payments.sandbox.mtn.MAGIC_NUMBERS`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import StringConstraints

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
)
from payments.sandbox.mtn import (
    MTN,
    Collection,
    authorize,
    issue_token,
    plan_for,
    rate_limited,
    status_body,
    status_of,
)
from payments.sandbox.mtn_requests import UUID, MoneyRequest, Payer, error, read_money_request, target_environment
from payments.sandbox.tokens import TokenStore, bearer_token

STARTING_BALANCE = 10_000_000  # of the disbursement account, in each currency: refunds and payouts draw on it


class Refund(MoneyRequest):
    referenceIdToRefund: Annotated[str, StringConstraints(pattern=UUID.pattern)]


class Transfer(MoneyRequest):
    payee: Payer


@dataclass
class Payout:
    """A refund or a transfer as MTN keeps it; its status is a function of time, as a collection's."""

    reference: str
    kind: Literal["refund", "transfer", "deposit"]
    environment: str
    request: Refund | Transfer
    plan: Plan
    due_at: float | None
    transaction_id: str
    callback_url: str | None


@dataclass
class DisbursementState:
    tokens: TokenStore = field(default_factory=TokenStore)
    payouts: dict[str, Payout] = field(default_factory=dict)
    token_users: dict[str, str] = field(default_factory=dict)


DISBURSEMENT = web.AppKey("mtn_disbursement", DisbursementState)


def refund_plan(app: web.Application, refund: Refund) -> Plan:
    """What becomes of a refund: the collection it names must have been paid, and not refunded past its amount."""
    collection = app[MTN].collections.get(refund.referenceIdToRefund.lower())
    if collection is None:
        return Plan("FAILED", "RESOURCE_NOT_FOUND", Delay.SHORT)
    if status_of(collection, loop_time()) != "SUCCESSFUL" or collection.request.currency != refund.currency:
        return Plan("FAILED", "NOT_ALLOWED", Delay.SHORT)
    already = sum(int(p.request.amount) for p in app[DISBURSEMENT].payouts.values()
                  if isinstance(p.request, Refund) and p.plan.status != "FAILED"
                  and p.request.referenceIdToRefund.lower() == collection.reference)
    if already + int(refund.amount) > int(collection.request.amount):
        return Plan("FAILED", "NOT_ENOUGH_FUNDS", Delay.SHORT)
    return Plan("SUCCESSFUL", None, Delay.SHORT)


def payout_body(payout: Payout, now: float) -> dict[str, Any]:
    """The status GET's answer, also the callback's body."""
    status = payout.plan.status if is_due(payout.due_at, now) else "PENDING"
    body: dict[str, Any] = {"amount": payout.request.amount, "currency": payout.request.currency}
    if status == "SUCCESSFUL":
        body["financialTransactionId"] = payout.transaction_id
    if payout.request.externalId is not None:
        body["externalId"] = payout.request.externalId
    if isinstance(payout.request, Transfer):
        body["payee"] = payout.request.payee.model_dump()
    body["status"] = status
    if status == "FAILED":
        body["reason"] = payout.plan.reason
    return body


def authorized(request: web.Request) -> web.Response | None:
    return authorize(request, request.app[DISBURSEMENT].tokens, "disbursement")


async def create_token(request: web.Request) -> web.Response:
    """`POST /disbursement/token/`: the product's own token (a Collection token is not accepted here)."""
    state = request.app[DISBURSEMENT]
    return issue_token(request, state.tokens, state.token_users)


async def create_payout(request: web.Request, kind: Literal["refund", "transfer", "deposit"]) -> web.Response:
    if (denied := authorized(request)) is not None:
        return denied
    model: type[Refund] | type[Transfer] = Refund if kind == "refund" else Transfer
    asked = await read_money_request(request, model)
    if isinstance(asked, web.Response):
        return asked
    reference, environment, callback_url, body = asked.reference, asked.environment, asked.callback_url, asked.body
    state = request.app[DISBURSEMENT]
    if reference.lower() in state.payouts:
        return error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
    plan = refund_plan(request.app, body) if isinstance(body, Refund) else plan_for(body.payee.partyId)
    control = request.app[CONTROL]
    payout = Payout(reference.lower(), kind, environment, body, plan, due_time(plan.delay, loop_time(), control),
                    str(secrets.randbelow(9 * 10**9) + 10**9), callback_url)
    state.payouts[payout.reference] = payout
    if callback_url is not None and payout.due_at is not None:
        request.app[DISPATCHER].schedule(payout.due_at, partial(_callback, payout, control))
    return web.Response(status=202)


def _callback(payout: Payout, control: SandboxControl) -> Notice | None:
    if payout.callback_url is None:
        return None
    return Notice(control.callback_method, payout.callback_url, payout_body(payout, loop_time()))


async def get_payout(request: web.Request, kind: Literal["refund", "transfer", "deposit"]) -> web.Response:
    if (denied := authorized(request)) is not None:
        return denied
    environment = target_environment(request)
    if isinstance(environment, web.Response):
        return environment
    state = request.app[DISBURSEMENT]
    account = state.token_users.get(bearer_token(request.headers.get("Authorization")) or "", "")
    if request.app[MTN].over_status_cap(request.app[CONTROL].status_calls_per_second, loop_time(),
                                        f"disbursement:{account}"):
        return rate_limited()
    payout = state.payouts.get(request.match_info["reference"].lower())
    if payout is None or payout.kind != kind or payout.environment != environment:
        return error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
    return web.json_response(payout_body(payout, loop_time()))


async def balance(request: web.Request) -> web.Response:
    """`GET /disbursement/v1_0/account/balance`: what is left to pay out, in the currency asked (XAF by default)."""
    if (denied := authorized(request)) is not None:
        return denied
    currency, now = request.query.get("currency", "XAF").upper(), loop_time()
    # Held from the moment MTN takes a payout (on its way or paid), given back if it fails; read from the records,
    # so that an edit (`/_control/transactions`) moves the balance as it would at MTN.
    spent = sum(int(payout.request.amount) for payout in request.app[DISBURSEMENT].payouts.values()
                if payout.request.currency == currency and payout_body(payout, now)["status"] != "FAILED")
    return web.json_response({"availableBalance": str(STARTING_BALANCE - spent), "currency": currency})


async def edit_transaction(request: web.Request) -> web.Response:
    """`POST /_control/transactions/{reference}` (not MTN's: this sandbox's): rewrite what MTN says of a collection,
    refund or transfer, as if its records changed after the fact, to see a reconciliation find it. JSON body:
    `status` (SUCCESSFUL, FAILED or PENDING, decided now) and/or `amount` (a string of digits)."""
    reference = request.match_info["reference"].lower()
    found: Collection | Payout | None = request.app[MTN].collections.get(reference) \
        or request.app[DISBURSEMENT].payouts.get(reference)
    if found is None:
        return web.json_response({"error": "unknown_reference"}, status=404)
    try:
        edit = await request.json()
    except ValueError:
        edit = None
    status, amount = (edit.get("status"), edit.get("amount")) if isinstance(edit, dict) else (None, None)
    if status not in (None, "SUCCESSFUL", "FAILED", "PENDING") or (
            amount is not None and not (isinstance(amount, str) and amount.isdigit() and amount != "0")):
        return web.json_response({"error": "invalid_edit", "detail": "status: SUCCESSFUL, FAILED or PENDING; "
                                  "amount: a string of digits"}, status=400)
    if status is not None:
        found.plan = Plan(status, "EDITED_IN_SANDBOX" if status == "FAILED" else None,
                          Delay.NEVER if status == "PENDING" else Delay.SHORT)
        found.due_at = None if status == "PENDING" else loop_time()
    if amount is not None:
        found.request = found.request.model_copy(update={"amount": amount})
    body = status_body(found, loop_time()) if isinstance(found, Collection) else payout_body(found, loop_time())
    return web.json_response(body)


def add_disbursement(app: web.Application) -> None:
    app[DISBURSEMENT] = DisbursementState()
    router = app.router
    router.add_post("/disbursement/token/", create_token)
    for version in ("v1_0", "v2_0"):
        router.add_post(f"/disbursement/{version}/refund", partial(create_payout, kind="refund"))
    router.add_get("/disbursement/v1_0/refund/{reference}", partial(get_payout, kind="refund"))
    router.add_post("/disbursement/v1_0/transfer", partial(create_payout, kind="transfer"))
    router.add_get("/disbursement/v1_0/transfer/{reference}", partial(get_payout, kind="transfer"))
    for version in ("v1_0", "v2_0"):  # a deposit: a transfer to a payee by another name (MTN offers both)
        router.add_post(f"/disbursement/{version}/deposit", partial(create_payout, kind="deposit"))
    router.add_get("/disbursement/v1_0/deposit/{reference}", partial(get_payout, kind="deposit"))
    router.add_get("/disbursement/v1_0/account/balance", balance)
    router.add_post("/_control/transactions/{reference}", edit_transaction)
