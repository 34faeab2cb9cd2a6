"""A contest's voters are read as their country writes: a Kenyan types `0712 000 102` on the form or the API and
votes; the page tells the closing time on Nairobi's clock, named, not West Africa Time's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import VoteOrder
from tests.channels.web.contest_form import open_form
from tests.factories import make_contest


async def payers(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(VoteOrder.voter_msisdn).order_by(VoteOrder.created_at))).all())


async def test_a_kenyan_number_typed_as_kenyans_write_it_votes_on_a_kenyan_contest(client: TestClient,
                                                                                  sessions: Sessions) -> None:
    await make_contest(sessions, slug="nairobi", country="KE", time_zone="Africa/Nairobi", providers=["mtn"])
    await make_contest(sessions, slug="douala", providers=["mtn"])
    voted = await client.post("/api/v1/contests/nairobi/votes", json={
        "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "0712 000 102"})
    assert voted.status == 201, await voted.text()
    refused = await client.post("/api/v1/contests/douala/votes", json={
        "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "0712 000 102"})
    assert refused.status == 422 and (await refused.json())["error"]["code"] == "invalid_msisdn"
    held = await open_form(client, "nairobi")
    posted = await client.post("/c/nairobi/vote", data={**held, "candidate": "02", "quantity": "1", "provider": "mtn",
                                                        "msisdn": "712-000-103"}, allow_redirects=False)
    assert posted.status == 303, await posted.text()
    assert await payers(sessions) == ["+254712000102", "+254712000103"]


async def test_the_closing_time_is_shown_on_the_contest_s_own_clock(client: TestClient, sessions: Sessions) -> None:
    closes = datetime.now(UTC).replace(hour=8, minute=53, second=0, microsecond=0) + timedelta(days=2)
    await make_contest(sessions, slug="nairobi", country="KE", time_zone="Africa/Nairobi", closes_at=closes)
    await make_contest(sessions, slug="douala", closes_at=closes)
    kenyan = await (await client.get("/c/nairobi", params={"lang": "en"})).text()
    assert "at 11:53 (EAT)" in kenyan  # not 09:53 (WAT), two hours before the lines close
    cameroonian = await (await client.get("/c/douala", params={"lang": "fr"})).text()
    assert "à 09:53 (WAT)" in cameroonian


async def test_a_number_of_another_country_is_told_what_the_contest_takes_on_the_form_and_the_api(
        client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="douala", providers=["mtn", "orange"])
    refused = await client.post("/api/v1/contests/douala/votes", json={
        "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "+254712000102"})
    body = await refused.json()
    assert refused.status == 422 and body["error"]["code"] == "number_not_served"
    assert body["error"]["message"] == "This contest is paid by MTN Mobile Money or Orange Money, numbers +237."
    held = await open_form(client, "douala", lang="fr")
    posted = await client.post("/c/douala/vote", data={**held, "candidate": "02", "quantity": "1", "provider": "mtn",
                                                       "msisdn": "+254712000103"})
    assert posted.status == 422 and "numéros +237" in await posted.text()
    assert await payers(sessions) == []  # nothing placed, nobody charged
