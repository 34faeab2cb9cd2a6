"""The web says the late-vote rule before the vote, in the voter's language, and says on the order's page why a payment
that came after the lines closed and their grace did not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from gateway.core.orders import counting
from gateway.db.engine import Sessions
from tests.factories import make_contest, place


async def test_the_contest_page_publishes_the_rule_with_its_grace(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    await make_contest(sessions, slug="orange-night", late_grace_seconds=600)
    english = await (await client.get("/c/gala", params={"lang": "en"})).text()
    assert ("Votes placed before the lines close count if paid within 5 minutes; later payments are refunded "
            "automatically.") in english
    french = await (await client.get("/c/orange-night", params={"lang": "fr"})).text()
    assert "payés dans un délai de 10 minutes" in french and "remboursés automatiquement" in french
    swahili = await (await client.get("/c/gala", params={"lang": "sw"})).text()
    assert "ndani ya dakika 5" in swahili


async def test_a_late_orders_page_says_the_lines_had_closed_and_it_is_being_refunded(client: TestClient,
                                                                                     sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", closes_at=datetime.now(UTC) + timedelta(seconds=5))
    order = await place(sessions, contest, quantity=2)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "txn-1",
                                   provider="mtn", now=contest.closes_at + timedelta(minutes=6))
    html = await (await client.get(f"/orders/{order.id}", params={"lang": "en"})).text()
    assert "Too late to count" in html and "your payment is being refunded automatically" in html
    assert 'http-equiv="refresh"' not in html
    html = await (await client.get(f"/orders/{order.id}", params={"lang": "fr"})).text()
    assert "Les lignes étaient fermées" in html
    status = await (await client.get(f"/orders/{order.id}/status")).json()
    assert status["status"] == "late" and status["terminal"] is True
