"""Every admin route, probed by someone not signed in with hostile paths and bodies: a clean answer
(never a 500; JSON errors on the API), and nothing created."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, Contest

SQLISH = "1' OR '1'='1'; DROP TABLE contests; --"
ROUTES = {
    ("GET", "/admin"), ("GET", "/admin/"), ("GET", "/admin/signin"), ("POST", "/admin/signin"),
    ("POST", "/admin/enrol"), ("POST", "/admin/signout"), ("GET", "/admin/contests"), ("GET", "/admin/contests/new"),
    ("POST", "/admin/contests/new"), ("GET", "/admin/contests/{contest_id}"),
    ("GET", "/admin/contests/{contest_id}/edit"),
    ("POST", "/admin/contests/{contest_id}/edit"), ("POST", "/admin/contests/{contest_id}/{action}"),
    ("POST", "/admin/contests/{contest_id}/candidates"), ("POST", "/admin/contests/{contest_id}/candidates/import"),
    ("POST", "/admin/candidates/{candidate_id}/status"),
    ("GET", "/photos/{name}"), ("GET", "/admin/audit"), ("GET", "/admin/orders"), ("GET", "/admin/orders/{order_id}"),
    ("POST", "/admin/orders/{order_id}/resend"), ("GET", "/admin/review"), ("POST", "/admin/review/{order_id}"),
    ("POST", "/admin/orders/{order_id}/refund"), ("POST", "/api/v1/admin/orders/{order_id}/refund"),
    ("GET", "/api/v1/admin/orders"), ("GET", "/api/v1/admin/orders/{order_id}"),
    ("POST", "/api/v1/admin/orders/{order_id}/resend"), ("GET", "/api/v1/admin/review"),
    ("POST", "/api/v1/admin/review/{order_id}"),
    ("POST", "/api/v1/admin/token"), ("POST", "/api/v1/admin/token/refresh"),
    ("POST", "/api/v1/admin/token/enrol"), ("POST", "/api/v1/admin/signout"),
    ("GET", "/api/v1/admin/contests"), ("POST", "/api/v1/admin/contests"),
    ("GET", "/api/v1/admin/contests/{contest_id}"),
    ("PUT", "/api/v1/admin/contests/{contest_id}"), ("POST", "/api/v1/admin/contests/{contest_id}/{action}"),
    ("POST", "/api/v1/admin/contests/{contest_id}/candidates"),
    ("POST", "/api/v1/admin/contests/{contest_id}/candidates/import"),
    ("PATCH", "/api/v1/admin/candidates/{candidate_id}"),
    ("GET", "/api/v1/admin/audit"), ("GET", "/api/v1/admin/openapi.json"), ("GET", "/admin/accounts"),
    ("POST", "/admin/accounts/{admin_id}/{action}"), ("POST", "/api/v1/admin/accounts/{admin_id}/{action}"),
    ("POST", "/admin/candidates/{candidate_id}/move"),
    ("PUT", "/api/v1/admin/contests/{contest_id}/candidates/order"),
    ("GET", "/admin/blocked"), ("POST", "/admin/blocked/{kind}"), ("POST", "/admin/blocked/{kind}/remove"),
    ("GET", "/api/v1/admin/blocked"), ("POST", "/api/v1/admin/blocked/{kind}"),
    ("POST", "/api/v1/admin/blocked/{kind}/remove"),
    # Signed results
    ("GET", "/admin/contests/{contest_id}/results"), ("POST", "/admin/contests/{contest_id}/results/sign"),
    ("GET", "/admin/contests/{contest_id}/results/{sheet_id}.csv"),
    ("GET", "/admin/contests/{contest_id}/results/{sheet_id}.csv.sig"),
    ("POST", "/api/v1/admin/contests/{contest_id}/results/sign"), ("GET", "/api/v1/admin/results-key"),
    ("GET", "/admin/contests/{contest_id}/certificates/{code}.pdf"),
    ("GET", "/api/v1/admin/contests/{contest_id}/certificates"),
    ("GET", "/api/v1/admin/contests/{contest_id}/certificates/{code}.pdf"),
    # dashboards and exports
    ("GET", "/admin/contests/{contest_id}/dashboard"), ("GET", "/admin/contests/{contest_id}/dashboard/stream"),
    ("GET", "/admin/static/dashboard.js"), ("GET", "/admin/contests/{contest_id}/exports/{kind}.{fmt}"),
    ("GET", "/api/v1/admin/contests/{contest_id}/dashboard"),
    ("GET", "/api/v1/admin/contests/{contest_id}/exports/{kind}.{fmt}"),
    # the control room
    ("GET", "/admin/control"), ("GET", "/admin/control/stream"), ("GET", "/api/v1/admin/control"),
    ("POST", "/admin/control/overlay/{contest_id}"), ("POST", "/api/v1/admin/control/overlay/{contest_id}"),
    # entries
    ("GET", "/admin/contests/{contest_id}/entries"), ("POST", "/admin/contests/{contest_id}/entries/call"),
    ("POST", "/admin/contests/{contest_id}/entries/approve"), ("POST", "/admin/contests/{contest_id}/entries/reject"),
    ("GET", "/admin/contests/{contest_id}/exports/entries.{fmt}"),
    ("GET", "/api/v1/admin/contests/{contest_id}/exports/entries.{fmt}"),
    ("GET", "/api/v1/admin/contests/{contest_id}/entries"), ("GET", "/api/v1/admin/contests/{contest_id}/entries/call"),
    ("PUT", "/api/v1/admin/contests/{contest_id}/entries/call"), ("POST", "/api/v1/admin/entries/approve"),
    ("POST", "/api/v1/admin/entries/{entry_id}/reject"),
    ("POST", "/api/v1/admin/candidates/{candidate_id}/{kind}/grant"),
    ("GET", "/api/v1/admin/candidates/{candidate_id}/{kind}/uploads/{upload_id}"),
    ("PUT", "/api/v1/admin/candidates/{candidate_id}/{kind}"), ("GET", "/admin/candidates/{candidate_id}/{kind}"),
    ("GET", "/admin/static/candidate_upload.js"), ("GET", "/admin/static/money.js"), ("GET", "/admin/static/market.js"),
    # settlements
    ("GET", "/admin/contests/{contest_id}/settlement"), ("POST", "/admin/contests/{contest_id}/settlement/commission"),
    ("POST", "/admin/contests/{contest_id}/settlement/fee-rate"),
    ("POST", "/admin/contests/{contest_id}/settlement/sign"),
    ("GET", "/admin/contests/{contest_id}/settlement/{statement_id}.{kind}"),
    # payouts
    ("POST", "/admin/contests/{contest_id}/settlement/payout-account/code"),
    ("POST", "/admin/contests/{contest_id}/settlement/payout-account"),
    ("POST", "/admin/contests/{contest_id}/settlement/payouts"),
    ("POST", "/admin/contests/{contest_id}/settlement/payouts/{payout_id}/approve"),
    ("POST", "/admin/contests/{contest_id}/settlement/payouts/{payout_id}/decline"),
    ("POST", "/admin/contests/{contest_id}/settlement/payouts/{payout_id}/paid"),
    # money in the JSON API
    ("GET", "/api/v1/admin/contests/{contest_id}/settlement"),
    ("POST", "/api/v1/admin/contests/{contest_id}/settlement/sign"),
    ("GET", "/api/v1/admin/contests/{contest_id}/payouts"), ("POST", "/api/v1/admin/contests/{contest_id}/payouts"),
    ("POST", "/api/v1/admin/contests/{contest_id}/payouts/{payout_id}/approve"),
    ("POST", "/api/v1/admin/contests/{contest_id}/payouts/{payout_id}/decline"),
    ("POST", "/api/v1/admin/contests/{contest_id}/payouts/{payout_id}/paid"),
    ("GET", "/api/v1/admin/contests/{contest_id}/refunds"),
    # the jury: a juror's scores, the organiser's formula, seats and reveal
    ("GET", "/admin/jury"), ("POST", "/admin/jury/{contest_id}/scores"), ("GET", "/admin/contests/{contest_id}/jury"),
    ("POST", "/admin/contests/{contest_id}/jury/formula"), ("POST", "/admin/contests/{contest_id}/jury/jurors"),
    ("POST", "/admin/contests/{contest_id}/jury/jurors/remove"), ("POST", "/admin/contests/{contest_id}/jury/reveal"),
    ("GET", "/api/v1/admin/jury"), ("PUT", "/api/v1/admin/jury/{contest_id}/scores"),
    ("GET", "/api/v1/admin/contests/{contest_id}/jury"), ("PUT", "/api/v1/admin/contests/{contest_id}/jury/formula"),
    ("POST", "/api/v1/admin/contests/{contest_id}/jury/jurors"),
    ("POST", "/api/v1/admin/contests/{contest_id}/jury/jurors/remove"),
    ("POST", "/api/v1/admin/contests/{contest_id}/jury/reveal"),
    # a show's rounds, and its lines opened and closed on air from the control room
    ("GET", "/admin/contests/{contest_id}/rounds"), ("POST", "/admin/contests/{contest_id}/rounds"),
    ("POST", "/admin/contests/{contest_id}/rounds/{number}/decide"),
    ("POST", "/admin/control/lines/{contest_id}/close"), ("POST", "/admin/control/lines/{contest_id}/open/{number}"),
    ("GET", "/api/v1/admin/contests/{contest_id}/rounds"), ("POST", "/api/v1/admin/contests/{contest_id}/rounds"),
    ("POST", "/api/v1/admin/contests/{contest_id}/rounds/{number}/open"),
    ("POST", "/api/v1/admin/contests/{contest_id}/rounds/{number}/decide"),
    ("POST", "/api/v1/admin/contests/{contest_id}/lines/close"),
}
PREFIXES = ("/admin", "/api/v1/admin/", "/photos/")


def test_every_admin_route_is_listed_here(settings: Settings) -> None:
    served = {(route.method, route.resource.canonical) for route in create_app(settings).router.routes()
              if route.method != "HEAD" and route.resource is not None
              and route.resource.canonical.startswith(PREFIXES)}
    assert served == ROUTES


def concrete(path: str, value: str) -> str:
    kind = "orders" if "/exports/" in path else "photo" if "/candidates/" in path else "numbers"
    return path.format(contest_id=value, candidate_id=value, action="open", name=value, order_id=value, admin_id=value,
                       kind=kind, fmt="csv", sheet_id=value,
                       entry_id=value, upload_id=value, statement_id=value, payout_id=value, code=value,
                       number=value)


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
async def test_a_stranger_gets_a_clean_answer_and_changes_nothing(client: TestClient, sessions: Sessions,
                                                                  method: str, path: str) -> None:
    for value in ("1", SQLISH):
        for body in ({"email": SQLISH, "password": SQLISH, "code": SQLISH, "refresh_token": SQLISH,
                      "csv": "name\n" + SQLISH, "name": SQLISH}, None):
            response = await client.request(method, concrete(path, value), json=body, allow_redirects=False)
            assert response.status < 500, await response.text()
            assert response.status != 200 or method == "GET"
            if response.status >= 400 and path.startswith("/api/"):
                assert (await response.json())["error"]["code"]
    async with sessions() as session:
        for model in (Contest, Candidate, AuditEntry):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_the_admin_api_is_described_route_by_route(client: TestClient) -> None:
    document = await (await client.get("/api/v1/admin/openapi.json")).json()
    described = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    assert described == {route for route in ROUTES if route[1].startswith("/api/v1/admin/")}
    assert document["paths"]["/api/v1/admin/token"]["post"]["summary"].startswith("Sign in")
