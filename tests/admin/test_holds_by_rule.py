"""The contest's page tells the organiser how many paid orders each fraud rule held and what became of them."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from gateway.core import holds
from gateway.core.orders import counting
from gateway.core.outcomes import ConfirmOutcome
from gateway.db.engine import Sessions
from tests.admin.accounts import browser_sign_in, make_account
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
