"""A contest's settlement in the admin area: the figures now (what it took per provider, its fees with the rate
they were computed by, refunds, commission, net owed, paid out, balance), its signed statements to download (CSV
and detached signature, the results key's), its payouts (admin.payouts), and, for owners, the commission and the
providers' fee rates, bands by amount included (gateway.core.money_out.fee_rates). Organisers see their own
contests'."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable

from aiohttp import web

from admin.accounts import allowed
from admin.fee_rate_fields import band_text, fixed_minor, rate_currency, typed_bands
from admin.pages.contests import contest_id
from admin.pages.rendering import render, see_other
from admin.texts import language_of
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.cells import safe_text
from gateway.core.entered_number import entered_whole
from gateway.core.errors import DomainError
from gateway.core.money_out import fee_rates, money_check, payouts, settlements
from gateway.core.providers import Capability
from gateway.kit.keys import PROVIDERS, RESULTS_KEY, SESSIONS

routes = web.RouteTableDef()
CONTEST = "/admin/contests/{contest_id:[0-9]{1,9}}"


@routes.get(CONTEST + "/settlement")
@guarded("contests.read")
async def settlement_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await show(request, actor)


async def show(request: web.Request, actor: Actor, error: str | None = None, status: int = 200,
               code_sent_to: tuple[str, str] | None = None) -> web.Response:
    """The page; `code_sent_to` (the wallet's kind and number) when a code was just texted to a payout wallet."""
    sessions, cid = request.app[SESSIONS], contest_id(request)
    figures = await settlements.settlement(sessions, actor, cid)
    differences = []
    if allowed(actor.role, "money.manage"):
        async with sessions() as session:
            differences = await money_check.recent_differences(session)
    return render(request, "settlement.html", {
        "s": figures, "statements": await settlements.statements_of(sessions, actor, cid),
        "rates": await fee_rates.fee_rates(sessions), "can_manage": allowed(actor.role, "money.manage"),
        "can_request": allowed(actor.role, "payouts.request"),
        "account": await payouts.account_of(sessions, actor, cid),
        "payouts": await payouts.payouts_of(sessions, actor, cid),
        "wallets": wallet_kinds(request), "code_sent_to": code_sent_to, "me": actor.email,
        "differences": differences, "band_text": band_text, "error": error}, actor, status)


def wallet_kinds(request: web.Request) -> list[tuple[str, str]]:
    """(kind, label) of the wallets a payout account may be: those of the providers that charge a phone's wallet
    (each pays out by its own API where it declares so, by hand otherwise)."""
    providers = request.app[PROVIDERS]
    return [(name, providers.label(name)) for name in providers.having(Capability.PHONE_PROMPT)]


def whole(form: dict[str, object], name: str) -> int:
    """A whole number of the form or JSON body (an empty or missing field is 0): digits 0-9 only, within a bigint."""
    value = form.get(name)
    return entered_whole(0 if value is None or value == "" else value, name)


async def changed(request: web.Request, actor: Actor,
                  change: Callable[[dict[str, object]], Awaitable[None]]) -> web.StreamResponse:
    """An owner's change from the page's form: back to the page, or the page again with why it was refused."""
    try:
        await change(dict(await form_of(request)))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await show(request, actor, exc.message, exc.status)
    raise see_other(f"/admin/contests/{contest_id(request)}/settlement")


@routes.post(CONTEST + "/settlement/commission")
@guarded("money.manage")
async def commission(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await changed(request, actor, lambda form: settlements.set_commission(
        request.app[SESSIONS], actor, contest_id(request), whole(form, "commission_bp")))


@routes.post(CONTEST + "/settlement/fee-rate")
@guarded("money.manage")
async def fee_rate(request: web.Request, actor: Actor) -> web.StreamResponse:
    async def change(form: dict[str, object]) -> None:
        """Its fixed part and bands typed in major units of its currency (the API's stay in minor units)."""
        lang = language_of(request)
        currency = rate_currency(form.get("currency"), lang)
        await fee_rates.set_fee_rate(request.app[SESSIONS], actor, str(form.get("provider") or ""), currency,
                                     whole(form, "percent_bp"), fixed_minor(form.get("fixed"), currency, lang),
                                     typed_bands(str(form.get("bands") or ""), currency, lang))
    return await changed(request, actor, change)


@routes.post(CONTEST + "/settlement/sign")
@guarded("money.manage")  # an owner's word on the money; an auditor reads statements and changes nothing
async def sign(request: web.Request, actor: Actor) -> web.StreamResponse:
    await settlements.sign_statement(request.app[SESSIONS], request.app[RESULTS_KEY], actor, contest_id(request))
    raise see_other(f"/admin/contests/{contest_id(request)}/settlement")


@routes.get(CONTEST + r"/settlement/{statement_id:[0-9]{1,12}}.{kind:csv|csv\.sig|xlsx}")
@guarded("contests.read")
async def statement_download(request: web.Request, actor: Actor) -> web.StreamResponse:
    """A signed statement: its CSV (the signed original), its detached signature, or its rows as a workbook."""
    kept = await settlements.statement_of(request.app[SESSIONS], actor, contest_id(request),
                                          int(request.match_info["statement_id"]))
    kind = request.match_info["kind"]
    if kind == "xlsx":
        body, content_type = await asyncio.to_thread(workbook_of, kept.statement), XLSX
    else:
        body, content_type = (kept.statement, "text/csv") if kind == "csv" else (kept.signature, "text/plain")
    return web.Response(body=body, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="settlement-{kept.contest_id}-{kept.id}.{kind}"'})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook_of(statement: bytes) -> bytes:
    from openpyxl import Workbook  # here: every web process would pay its import at start for an owner's download

    book = Workbook(write_only=True)
    sheet = book.create_sheet("settlement")
    for row in csv.reader(io.StringIO(statement.decode())):
        sheet.append([int(value) if value.lstrip("-").isdigit() else safe_text(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
