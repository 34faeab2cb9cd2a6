"""The contest's page tells the organiser how many paid orders each fraud rule held and what became of them."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.core.fraud import holds
from gateway.core.orders import counting
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.admin.accounts import browser_sign_in, csrf_token, make_account
from tests.factories import make_contest, place


async def test_the_contest_page_counts_the_orders_each_rule_held(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"payer_orders_per_10_minutes": 1})
    outcomes = []
    for n in range(3):
        order = await place(sessions, contest, "02")  # one payer, three orders in a minute
        outcomes.append(await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", f"H{n}",
                                                       provider="mtn"))
        last = order
    assert outcomes == [ConfirmOutcome.COUNTED, ConfirmOutcome.HELD, ConfirmOutcome.HELD]
    await holds.release_held(sessions, last.id, actor="owner@example.org", reason="a fan, checked by phone")
    await place(sessions, contest, "02")  # placed over the limit but never paid: never held
    await browser_sign_in(client, await make_account(sessions, "owner"))
    page = await (await client.get(f"/admin/contests/{contest.id}")).text()
    assert "Held by the fraud rules" in page
    assert "<tr><td>payer_velocity</td><td>2</td><td>1</td><td>1</td><td>0</td></tr>" in page


async def test_thresholds_are_tried_on_the_latest_orders_before_they_are_saved(client: TestClient,
                                                                             sessions: Sessions) -> None:
    contest = await make_contest(sessions)  # the defaults: ten payer numbers behind one address a day
    for n in range(12):  # twelve numbers from one office address
        await place(sessions, contest, "03", msisdn=f"+2376700003{n:02d}", voter_address="203.0.113.9")
    await browser_sign_in(client, await make_account(sessions, "owner"))
    edit = f"/admin/contests/{contest.id}/edit"
    form = await client.get(edit)
    html = await form.text()
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', html))
    fields["fraud_numbers_per_address_per_day"] = "5"
    tried = await client.post(edit, data={**fields, "providers": ["mtn", "orange", "stripe"], "preview": "1",
                                          "csrf_token": csrf_token(html)})
    page = await tried.text()
    assert tried.status == 200, page
    # Placed now, the 11th and 12th were held at ten numbers; at five, the 6th to the 12th would have been.
    assert "Of the last 12 orders, these thresholds would have held 7; the saved ones held 2." in page
    async with sessions() as session:
        kept = await session.scalar(select(Contest.fraud_rules).where(Contest.id == contest.id))
    assert not kept  # nothing was saved
