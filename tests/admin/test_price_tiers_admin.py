"""An organiser sets a contest's bundles: on the form, a row each with its price typed in major units like every
amount of the pages; through the JSON API, a list in minor units. A bad bundle is refused in the organiser's words,
the rest of the form kept, and nothing saved or changed; the audit trail and the API answer carry the bundles."""

from __future__ import annotations

import html
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, make_account

NBSP = "\u00a0"


def form(token: str, **fields: Any) -> dict[str, Any]:
    flat = {k: (v if not isinstance(v, list) else ",".join(v)) for k, v in contest_fields(**fields).items()}
    return {**flat, "providers": "mtn", "csrf_token": token}


async def saved_tiers(sessions: Sessions) -> list[list[dict[str, int]]]:
    async with sessions() as session:
        return [contest.price_tiers for contest in (await session.scalars(select(Contest))).all()]


async def test_the_form_keeps_bundles_typed_in_major_units_and_shows_them_again(
        client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    made = await client.post("/admin/contests/new", allow_redirects=False, data=form(
        token, tier_votes_1="50", tier_amount_1="4000", tier_votes_2="10", tier_amount_2="900"))
    assert made.status == 303, await made.text()
    assert await saved_tiers(sessions) == [[{"votes": 10, "amount": 900}, {"votes": 50, "amount": 4000}]]
    edit = await (await client.get(f"{made.headers['Location']}/edit?lang=en")).text()
    assert 'name="tier_votes_1" inputmode="numeric" size="6" value="10"' in edit
    assert 'name="tier_amount_2" inputmode="decimal" size="10" value="4000"' in edit
    assert 'name="tier_votes_3" inputmode="numeric" size="6" value=""' in edit


async def test_kenyan_bundles_are_typed_in_shillings(client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    made = await client.post("/admin/contests/new", allow_redirects=False, data={**form(
        token, currency="KES", country="KE", price_per_vote="10", ussd_service_codes=[], tier_votes_1="10",
        tier_amount_1="90.50"), "providers": "stripe"})  # a card charges cents (M-Pesa: whole shillings)
    assert made.status == 303, await made.text()
    assert await saved_tiers(sessions) == [[{"votes": 10, "amount": 9050}]]


async def test_bad_bundles_are_refused_in_the_organisers_words_and_nothing_is_saved(
        client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    dearer = await client.post("/admin/contests/new?lang=en", allow_redirects=False, data=form(
        token, tier_votes_1="10", tier_amount_1="1200", name=""))
    page = await dearer.text()
    assert dearer.status == 400
    assert (f"The bundle of 10 votes costs more than 10 single votes (FCFA{NBSP}1,000): a bundle must be cheaper or "
            "the same.") in page
    assert 'id="name-error"' in page  # every wrong field at once
    assert 'name="tier_amount_1" inputmode="decimal" size="10" value="1200"' in page  # what they typed, again
    french = await client.post("/admin/contests/new?lang=fr", allow_redirects=False, data=form(
        token, tier_votes_1="10", tier_amount_1="900", tier_votes_2="20", tier_amount_2="1900"))
    assert french.status == 400
    assert "Le forfait de 20 votes coûte plus par vote que celui de 10" in await french.text()
    half = await client.post("/admin/contests/new?lang=en", allow_redirects=False, data=form(
        token, tier_votes_1="10"))
    assert "Bundle 1: type its votes and its price, or leave both empty." in await half.text()
    cents = await client.post("/admin/contests/new?lang=en", allow_redirects=False, data=form(
        token, tier_votes_1="10", tier_amount_1="900.5"))
    assert "Bundle 1: XAF has no cents" in await cents.text()
    too_many = await client.post("/admin/contests/new?lang=en", allow_redirects=False, data=form(
        token, max_votes_per_order="20", tier_votes_1="30", tier_amount_1="2000"))
    assert "A bundle's votes: from 1 to 20, the votes an order at most." in html.unescape(await too_many.text())
    assert await saved_tiers(sessions) == []


async def test_the_api_takes_bundles_in_minor_units_and_refuses_bad_ones_changing_nothing(
        client: TestClient, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    tiers = [{"votes": 10, "amount": 900}, {"votes": 1, "amount": 100}]
    made = await client.post("/api/v1/admin/contests", json=contest_fields(price_tiers=tiers), headers=owner)
    body = await made.json()
    assert made.status == 201, body
    assert body["price_tiers"] == [{"votes": 1, "amount": 100}, {"votes": 10, "amount": 900}]  # sorted by votes
    for bad, words in (([{"votes": 10, "amount": 1001}], "10 votes cannot cost more than 10 single votes (1000)"),
                       ([{"votes": 10, "amount": 900}, {"votes": 10, "amount": 800}], "Two price tiers are for 10"),
                       ([{"votes": 10}], "Each price tier is"), ("10=900", "price_tiers must be a list")):
        refused = await client.put(f"/api/v1/admin/contests/{body['id']}", headers=owner,
                                   json=contest_fields(price_tiers=bad))
        error = (await refused.json())["error"]
        assert refused.status == 400 and error["code"] == "invalid_price_tiers" and error["field"] == "price_tiers"
        assert words in error["message"]
    assert await saved_tiers(sessions) == [[{"votes": 1, "amount": 100}, {"votes": 10, "amount": 900}]]
    cleared = await client.put(f"/api/v1/admin/contests/{body['id']}", headers=owner, json=contest_fields())
    assert cleared.status == 200 and (await cleared.json())["price_tiers"] == []
    async with sessions() as session:
        changes = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "contest.update"))).all()
    assert [(c.before or {}).get("price_tiers") for c in changes] == [tiers[::-1]]


async def test_a_bundle_its_provider_cannot_charge_is_refused_naming_it(client: TestClient, sessions: Sessions) -> None:
    """M-Pesa charges whole shillings: a bundle of KES 90.50 would fail every order of it, as a price would."""
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    kenyan = contest_fields(currency="KES", country="KE", price_per_vote=1000, providers=["mpesa"],
                            ussd_service_codes=[], price_tiers=[{"votes": 10, "amount": 9050}])
    refused = await client.post("/api/v1/admin/contests", json=kenyan, headers=owner)
    error = (await refused.json())["error"]
    assert refused.status == 400 and error["code"] == "price_not_chargeable" and error["field"] == "price_tiers"
    assert error["message"].startswith("The bundle of 10 votes: M-Pesa charges whole Kenyan shillings")
    made = await client.post("/api/v1/admin/contests", headers=owner,
                             json={**kenyan, "price_tiers": [{"votes": 10, "amount": 9000}]})
    assert made.status == 201, await made.text()
    assert await saved_tiers(sessions) == [[{"votes": 10, "amount": 9000}]]
