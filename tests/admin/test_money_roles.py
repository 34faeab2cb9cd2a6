"""Who may touch money, route by route and role by role: each route that reads, moves or commits money (settlements,
statements, payouts, refunds, the review queue's decisions, rates, prices and fees) is called by every role, on the
pages and in the JSON API; a role the table allows passes the role's check, every other one is refused (403) and
changes nothing. An auditor reads everything and changes nothing, so signs no settlement statement. A new route under
the money paths, or a new role, fails here until the table says who may use it."""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from admin.accounts import ROLES
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Payout, SettlementStatement
from tests.admin.accounts import api_tokens, bearer, contest_fields, make_account
from tests.admin.entries_data import give_contest
from tests.admin.test_money_api import paid_contest

PAGE = "/admin/contests/{contest_id}"
API = "/api/v1/admin/contests/{contest_id}"
PAYOUT = "/payouts/{payout_id}"
# What marks a route as money's: its path names a settlement, a payout, a refund or the review queue (whose decisions
# count a held payment or give it back).
MONEY_PATH = re.compile(r"/(settlement|payouts|refunds?|review)(/|$)")
# Routes that set a price or a fee, whose paths do not say so.
PRICES = {("POST", "/admin/contests/new"), ("POST", PAGE + "/edit"), ("POST", "/api/v1/admin/contests"),
          ("PUT", API), ("POST", PAGE + "/entries/call"), ("PUT", API + "/entries/call")}

ALL = frozenset(ROLES)
OWNER = frozenset({"owner"})
RUNS_IT = frozenset({"owner", "organiser"})  # an organiser runs their own contests' (checked where a contest is named)
READS_IT = frozenset({"owner", "organiser", "auditor"})
REVIEWS = frozenset({"owner", "auditor"})
# (method, route) -> the roles that pass; every other role of ROLES gets 403.
WHO_MAY: dict[tuple[str, str], frozenset[str]] = {
    ("GET", PAGE + "/settlement"): READS_IT,
    ("GET", PAGE + "/settlement/{statement_id}.{kind}"): READS_IT,
    ("POST", PAGE + "/settlement/sign"): OWNER,
    ("POST", PAGE + "/settlement/commission"): OWNER,
    ("POST", PAGE + "/settlement/fee-rate"): OWNER,
    ("POST", PAGE + "/settlement/payout-account/code"): RUNS_IT,
    ("POST", PAGE + "/settlement/payout-account"): RUNS_IT,
    ("POST", PAGE + "/settlement/payouts"): RUNS_IT,
    ("POST", PAGE + "/settlement" + PAYOUT + "/approve"): OWNER,
    ("POST", PAGE + "/settlement" + PAYOUT + "/decline"): OWNER,
    ("POST", PAGE + "/settlement" + PAYOUT + "/paid"): OWNER,
    ("POST", "/admin/orders/{order_id}/refund"): OWNER,
    ("GET", "/admin/review"): REVIEWS,
    ("POST", "/admin/review/{order_id}"): OWNER,
    ("GET", API + "/settlement"): READS_IT,
    ("POST", API + "/settlement/sign"): OWNER,
    ("GET", API + "/payouts"): READS_IT,
    ("POST", API + "/payouts"): RUNS_IT,
    ("POST", API + PAYOUT + "/approve"): OWNER,
    ("POST", API + PAYOUT + "/decline"): OWNER,
    ("POST", API + PAYOUT + "/paid"): OWNER,
    ("GET", API + "/refunds"): READS_IT,
    ("POST", "/api/v1/admin/orders/{order_id}/refund"): OWNER,
    ("GET", "/api/v1/admin/review"): REVIEWS,
    ("POST", "/api/v1/admin/review/{order_id}"): OWNER,
    **{route: RUNS_IT for route in PRICES},
}
# What each call sends: enough for an allowed role to get past its role's check (a wrong one is then told why).
BODIES: dict[str, dict[str, Any]] = {
    "/settlement/commission": {"commission_bp": "0"},
    "/settlement/payouts": {"currency": "XAF", "amount": "1"},
    "/payouts": {"currency": "XAF", "amount": 1},
    "/decline": {"reason": "not now"},
    "/paid": {"proof": "VIR-1"},
    "/refund": {"reason": "asked"},
    "/review/{order_id}": {"decision": "dismiss", "reason": "looked"},
}


def path_of(route: web.AbstractRoute) -> str:
    """The route as the table writes it: its placeholders without their patterns."""
    info = route.resource.get_info() if route.resource is not None else {}
    path = str(info.get("path") or info.get("formatter") or "")
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)


def test_every_money_route_of_the_app_has_its_roles_in_the_table(client: TestClient) -> None:
    served = {(route.method, path_of(route)) for route in client.app.router.routes() if route.method != "HEAD"}
    money = {(method, path) for method, path in served
             if path.startswith(("/admin/", "/api/v1/admin/")) and MONEY_PATH.search(path)}
    assert money - WHO_MAY.keys() == set(), "a money route without a rule: say which roles may use it"
    assert WHO_MAY.keys() - served == set(), "the table names a route the app no longer serves"
    assert all(allowed <= ALL for allowed in WHO_MAY.values())
    assert {"owner", "organiser", "auditor", "support", "jury"} == ALL, "a new role: add its column to the table"


def refused_by_role(status: int, text: str) -> bool:
    return status == 403 and "role may not do this" in text


async def test_each_role_may_use_only_the_money_routes_the_table_gives_it(client: TestClient,
                                                                          sessions: Sessions) -> None:
    contest = await paid_contest(sessions)  # a payout account set, 1,000 XAF payable
    tokens: dict[str, dict[str, str]] = {}
    for role in ROLES:
        account = await make_account(sessions, role)
        if role == "organiser":
            await give_contest(sessions, contest.id, account.id)
        tokens[role] = bearer(await api_tokens(client, account))
    places = {"contest_id": contest.id, "payout_id": uuid.uuid4(), "order_id": uuid.uuid4(), "statement_id": 1,
              "kind": "csv"}

    # Pages too are called with the Bearer token (no CSRF to fetch): the same guard decides who may.
    for (method, route), allowed in sorted(WHO_MAY.items()):
        url = route.format(**places)
        body = next((sent for ending, sent in BODIES.items() if route.endswith(ending)), {})
        if (method, route) in {("POST", "/api/v1/admin/contests"), ("PUT", API)}:
            body = contest_fields(slug=f"c-{uuid.uuid4().hex[:8]}", ussd_service_codes=[])
        for role in ROLES:
            sent = {"json": body} if url.startswith("/api/") else {"data": {key: str(value) for key, value in
                                                                             body.items()}}
            response = await client.request(method, url, headers=tokens[role], allow_redirects=False, **sent)
            text = await response.text()
            refused = refused_by_role(response.status, text)
            assert refused == (role not in allowed), (method, route, role, response.status, text[:300])
            assert response.status not in (401, 500), (method, route, role, response.status, text[:300])
    async with sessions() as session:
        assert set(await session.scalars(select(Payout.requested_by))) <= {"owner@example.com",
                                                                          "organiser@example.com"}
        assert set(await session.scalars(select(SettlementStatement.signed_by))) == {"owner@example.com"}
        assert list(await session.scalars(select(AuditEntry.action).where(  # the refused changed nothing
            AuditEntry.actor.in_(["auditor@example.com", "support@example.com"]),
            AuditEntry.action != "admin.sign_in"))) == []


async def test_an_auditor_signs_no_settlement_statement_on_the_page_or_in_the_api(client: TestClient,
                                                                                  sessions: Sessions) -> None:
    contest = await paid_contest(sessions)
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    by_api = await client.post(f"/api/v1/admin/contests/{contest.id}/settlement/sign", headers=auditor)
    assert by_api.status == 403 and (await by_api.json())["error"]["code"] == "forbidden"
    on_page = await client.post(f"/admin/contests/{contest.id}/settlement/sign", headers=auditor,
                                allow_redirects=False)
    assert on_page.status == 403
    page = await client.get(f"/admin/contests/{contest.id}/settlement", headers=auditor)
    assert page.status == 200 and "Sign a statement now" not in await page.text()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SettlementStatement)) == 0
        assert await session.scalar(select(func.count()).select_from(Payout)) == 0
        assert await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.actor == "auditor@example.com", AuditEntry.action.startswith("settlement"))) == 0

    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    signed = await client.post(f"/api/v1/admin/contests/{contest.id}/settlement/sign", headers=owner)
    assert signed.status == 201 and (await signed.json())["signed_by"] == "owner@example.com"
