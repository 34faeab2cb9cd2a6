"""The admin area shows money as money: a contest's KES 50.00 reads "Ksh 50.00" (en) and "50,00 KES" (fr) on the
settlement, the orders and the dashboard, never 5000; its exports keep the minor units and add the major ones; its
JSON keeps the minor units, each with its currency's exponent."""

from __future__ import annotations

import csv
import io

from aiohttp.test_utils import TestClient

from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.factories import make_contest, place

NBSP, NNBSP = "\u00a0", "\u202f"


async def kenyan_contest(sessions: Sessions) -> Contest:
    """A contest at KES 10 a vote, 5 votes paid by M-Pesa: KES 50.00 (5000 cents) taken."""
    contest = await make_contest(sessions, currency="KES", price_per_vote=1000, providers=["mpesa"])
    order = await place(sessions, contest, quantity=5, provider="mpesa", msisdn="+254712000001")
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "KES", "QK1", provider="mpesa")
    return contest


async def test_the_settlement_orders_and_dashboard_show_kes_50_as_money_in_each_language(
        client: TestClient, sessions: Sessions) -> None:
    contest = await kenyan_contest(sessions)
    await browser_sign_in(client, await make_account(sessions, "owner"))
    english = await (await client.get(f"/admin/contests/{contest.id}/settlement?lang=en")).text()
    assert f"<dt>Gross</dt><dd>Ksh{NBSP}50.00</dd>" in english and f"<dt>Balance</dt><dd>Ksh{NBSP}50.00</dd>" in english
    assert "<dd>5000</dd>" not in english
    french = await (await client.get(f"/admin/contests/{contest.id}/settlement?lang=fr")).text()
    assert f"<dd>50,00{NBSP}KES</dd>" in french and "<dd>5000</dd>" not in french

    orders = await (await client.get("/admin/orders?lang=en")).text()
    assert f"<td>Ksh{NBSP}50.00</td>" in orders and "5000 KES" not in orders
    dashboard = await (await client.get(f"/admin/contests/{contest.id}/dashboard?lang=en")).text()
    assert f"<td>mpesa</td><td>5</td><td>Ksh{NBSP}50.00</td>" in dashboard


async def test_exports_keep_minor_units_beside_major_ones_and_the_api_names_the_exponent(
        client: TestClient, sessions: Sessions) -> None:
    contest = await kenyan_contest(sessions)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    exported = await client.get(f"/api/v1/admin/contests/{contest.id}/exports/orders.csv", headers=owner)
    [row] = list(csv.DictReader(io.StringIO(await exported.text())))
    assert (row["amount"], row["currency"], row["amount_major"]) == ("5000", "KES", "50.00")

    settlement = await (await client.get(f"/api/v1/admin/contests/{contest.id}/settlement", headers=owner)).json()
    [kes] = settlement["currencies"]
    assert (kes["currency"], kes["minor_digits"], kes["gross"]) == ("KES", 2, 5000)
    body = await (await client.get(f"/api/v1/admin/contests/{contest.id}", headers=owner)).json()
    assert (body["price_per_vote"], body["currency"], body["minor_digits"]) == (1000, "KES", 2)
    document = await (await client.get("/api/v1/admin/openapi.json")).json()
    assert "minor_digits" in document["info"]["description"]
