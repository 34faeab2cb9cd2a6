"""Money in the admin JSON API: a contest's settlement (its figures and signed statements), its payouts (asked for,
approved with a fresh authenticator code, declined, marked paid) and the refunds its providers send. Every payout
and refund carries our reference (the `X-Reference-Id` the provider got) and the provider's own transaction id, the
two an organiser matches against the provider's statement. The same rules as the pages: an organiser sees and asks
for their own contests', an owner decides."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin.api import PREFIX
from admin.pages.contests import contest_id
from admin.payouts import approve_with_code, payout_id
from admin.settlements import whole
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.money_out import payouts, settlements
from gateway.core.money_out.refunds import refunds_of
from gateway.core.texts import shown_digits
from gateway.db.models import Payout, PayoutAccount, Refund, SettlementStatement
from gateway.kit.keys import RESULTS_KEY, SESSIONS

routes = web.RouteTableDef()
CONTEST = PREFIX + "/contests/{contest_id:[0-9]{1,9}}"
PAYOUT = CONTEST + "/payouts/{payout_id:[0-9a-f-]{36}}"


def when(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def money_json(money: settlements.CurrencyStatement) -> dict[str, Any]:
    return {"currency": money.currency, "minor_digits": shown_digits(money.currency), "gross": money.gross,
            "refunds": money.refunds,
            "chargebacks": money.chargebacks, "fees": money.fees, "commission": money.commission, "net": money.net,
            "paid_out": money.paid_out, "payouts_under_way": money.pending_out, "balance": money.balance,
            "awaiting_verification": money.unverified, "held_for_review": money.held,
            "payable": money.payable,
            "providers": [{"provider": line.takings.provider, "payments": line.takings.payments,
                           "gross": line.takings.gross, "refunds": line.takings.refunds, "fees": line.fees}
                          for line in money.lines]}


def statement_json(kept: SettlementStatement) -> dict[str, Any]:
    base = f"/admin/contests/{kept.contest_id}/settlement/{kept.id}"
    return {"id": kept.id, "signed_at": when(kept.created_at), "signed_by": kept.signed_by, "entries": kept.entries,
            "head": kept.head_hash.hex(), "csv": f"{base}.csv", "signature": f"{base}.csv.sig"}


def payout_json(payout: Payout) -> dict[str, Any]:
    return {"id": str(payout.id), "reference": str(payout.id), "amount": payout.amount, "currency": payout.currency,
            "minor_digits": shown_digits(payout.currency),
            "kind": payout.kind, "msisdn": payout.msisdn, "holder": payout.holder, "state": payout.state.value,
            "provider_txn_id": payout.provider_txn_id, "provider_reason": payout.provider_reason,
            "proof": payout.proof, "requested_by": payout.requested_by, "approved_by": payout.approved_by,
            "requested_at": when(payout.created_at), "approved_at": when(payout.approved_at),
            "decided_at": when(payout.decided_at)}


def account_json(account: PayoutAccount | None) -> dict[str, Any] | None:
    if account is None:
        return None
    return {"kind": account.kind, "holder": account.holder, "msisdn": account.msisdn,
            "bank_details": account.bank_details, "proven_at": when(account.proven_at)}


def refund_json(refund: Refund) -> dict[str, Any]:
    return {"id": str(refund.id), "reference": str(refund.id), "order_id": str(refund.order_id),
            "provider": refund.provider, "amount": refund.amount, "currency": refund.currency,
            "minor_digits": shown_digits(refund.currency),
            "state": refund.state.value, "provider_txn_id": refund.provider_txn_id,
            "provider_reason": refund.provider_reason, "attempts": refund.attempts, "reason": refund.reason,
            "requested_by": refund.requested_by, "requested_at": when(refund.created_at),
            "decided_at": when(refund.decided_at)}


@routes.get(CONTEST + "/settlement")
@guarded("contests.read")
async def settlement(request: web.Request, actor: Actor) -> web.StreamResponse:
    sessions, cid = request.app[SESSIONS], contest_id(request)
    now = await settlements.settlement(sessions, actor, cid)
    kept = await settlements.statements_of(sessions, actor, cid)
    return web.json_response({"contest_id": now.contest_id, "slug": now.slug, "commission_bp": now.commission_bp,
                              "computed_at": when(now.at), "ledger": {"entries": now.entries, "head": now.head.hex()},
                              "currencies": [money_json(money) for money in now.figures],
                              "statements": [statement_json(statement) for statement in kept]})


@routes.post(CONTEST + "/settlement/sign")
@guarded("money.manage")  # an owner's word on the money; an auditor reads statements and changes nothing
async def sign(request: web.Request, actor: Actor) -> web.StreamResponse:
    kept = await settlements.sign_statement(request.app[SESSIONS], request.app[RESULTS_KEY], actor,
                                            contest_id(request))
    return web.json_response(statement_json(kept), status=201)


@routes.get(CONTEST + "/payouts")
@guarded("contests.read")
async def payouts_list(request: web.Request, actor: Actor) -> web.StreamResponse:
    sessions, cid = request.app[SESSIONS], contest_id(request)
    return web.json_response({"account": account_json(await payouts.account_of(sessions, actor, cid)),
                              "payouts": [payout_json(p) for p in await payouts.payouts_of(sessions, actor, cid)]})


@routes.post(CONTEST + "/payouts")
@guarded("payouts.request")
async def request_payout(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = dict(await form_of(request))
    payout = await payouts.request_payout(request.app[SESSIONS], actor, contest_id(request),
                                          str(form.get("currency") or ""), whole(form, "amount"))
    return web.json_response(payout_json(payout), status=201)


@routes.post(PAYOUT + "/approve")
@guarded("money.manage")
async def approve(request: web.Request, actor: Actor) -> web.StreamResponse:
    return web.json_response(payout_json(await approve_with_code(request, actor, dict(await form_of(request)))))


@routes.post(PAYOUT + "/decline")
@guarded("money.manage")
async def decline(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    await payouts.decline_payout(request.app[SESSIONS], actor, contest_id(request), payout_id(request),
                                 str(form.get("reason") or "declined")[:500])
    return web.json_response({"state": "declined"})


@routes.post(PAYOUT + "/paid")
@guarded("money.manage")
async def paid(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    await payouts.mark_paid(request.app[SESSIONS], actor, contest_id(request), payout_id(request),
                            str(form.get("proof") or ""))
    return web.json_response({"state": "succeeded"})


@routes.get(CONTEST + "/refunds")
@guarded("contests.read")
async def refunds(request: web.Request, actor: Actor) -> web.StreamResponse:
    found = await refunds_of(request.app[SESSIONS], actor, contest_id(request))
    return web.json_response({"refunds": [refund_json(refund) for refund in found]})
