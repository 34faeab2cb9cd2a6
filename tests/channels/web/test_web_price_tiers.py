"""Bundles on the web: the vote form offers the contest's price tiers (a button each, and the number field's
suggestions), the public JSON lists them, and a bundle voted from the form or the JSON API asks MTN (faked at the
wire) for the bundle's amount; another number stays at the price of a vote."""

from __future__ import annotations

import re
import uuid

from aiohttp.test_utils import TestClient

from assembly.web.keys import STARTS
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from tests.channels.web.contest_form import open_form
from tests.factories import make_contest
from tests.fakes.mtn import FakeMtn

TIERS = [{"votes": 1, "amount": 100}, {"votes": 10, "amount": 900}, {"votes": 50, "amount": 4000}]
VOTE = {"candidate": "02", "provider": "mtn", "msisdn": "6 70 00 00 01"}


async def asked_of_mtn(client: TestClient, fake_mtn: FakeMtn) -> list[str]:
    await client.app[STARTS].wait_idle()
    return [status["amount"] for status in fake_mtn.statuses.values()]


async def test_the_form_offers_each_bundle_and_the_json_lists_them(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", price_tiers=TIERS)
    html = await (await client.get("/c/gala", params={"lang": "en"})).text()
    buttons = re.findall(r'<button type="button" class="bundle" data-votes="(\d+)"[^>]*>([^<]+)</button>', html)
    assert buttons == [("1", "1 vote for FCFA\u00a0100"), ("10", "10 votes for FCFA\u00a0900"),
                       ("50", "50 votes for FCFA\u00a04,000")]
    assert 'list="bundle-votes"' in html and '<option value="10" label="10 votes for FCFA\u00a0900">' in html
    assert '"tiers": {"1": 100, "10": 900, "50": 4000}' in html  # the script's total for a bundle
    french = await (await client.get("/c/gala", params={"lang": "fr"})).text()
    assert "Forfaits" in french and "10 votes pour 900\u00a0FCFA" in french
    body = await (await client.get("/api/v1/contests/gala")).json()
    assert body["price_tiers"] == TIERS
    listed = await (await client.get("/api/v1/contests")).json()
    assert listed["contests"][0]["price_tiers"] == TIERS


async def test_a_contest_without_bundles_shows_none(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    html = await (await client.get("/c/gala", params={"lang": "en"})).text()
    assert 'class="bundle"' not in html and "bundle-votes" not in html
    assert (await (await client.get("/api/v1/contests/gala")).json())["price_tiers"] == []


async def test_a_bundle_from_the_form_is_charged_its_amount(client: TestClient, sessions: Sessions,
                                                             fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, slug="gala", price_tiers=TIERS)
    fields = await open_form(client, "gala", lang="en")
    response = await client.post("/c/gala/vote", data={**VOTE, "quantity": "10", **fields}, allow_redirects=False)
    assert response.status == 303
    order = await tables.get_order(sessions, uuid.UUID(response.headers["Location"].rsplit("/", 1)[1]))
    assert (order.quantity, order.amount, order.currency) == (10, 900, "XAF")
    assert await asked_of_mtn(client, fake_mtn) == ["900"]
    page = await (await client.get(response.headers["Location"])).text()
    assert "FCFA\u00a0900" in page


async def test_a_bundle_from_the_json_api_is_charged_its_amount_and_another_number_per_vote(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, slug="gala", price_tiers=TIERS)
    bundle = await (await client.post("/api/v1/contests/gala/votes", json={**VOTE, "quantity": 50})).json()
    assert (bundle["order"]["quantity"], bundle["order"]["amount"]) == (50, 4000)
    assert "FCFA\u00a04,000" in bundle["next"]["message"]
    other = await (await client.post("/api/v1/contests/gala/votes",
                                      json={**VOTE, "quantity": 7, "msisdn": "6 70 00 00 02"})).json()
    assert (other["order"]["quantity"], other["order"]["amount"]) == (7, 700)
    assert sorted(await asked_of_mtn(client, fake_mtn)) == ["4000", "700"]


async def test_a_refused_form_shows_the_bundles_total(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", price_tiers=TIERS)
    fields = await open_form(client, "gala", lang="en")
    response = await client.post("/c/gala/vote", data={**VOTE, "quantity": "10", "msisdn": "", **fields})
    assert response.status == 422
    assert "Total: FCFA\u00a0900" in await response.text()
