"""An organiser sets a contest's country and time zone: the times typed in its form are on that clock (kept in UTC)
and shown back on it; an API client that names no country gets its currency's."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, make_account


async def stored(sessions: Sessions, slug: str) -> Contest:
    async with sessions() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == slug))
    assert contest is not None
    return contest


async def test_a_kenyan_organiser_types_nairobi_times_and_reads_them_back(client: TestClient,
                                                                         sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "organiser"))
    page = await (await client.get("/admin/contests/new", params={"lang": "en"})).text()
    assert '<option value="KE" >Kenya</option>' in page and '<option value="CM" selected>Cameroon</option>' in page
    fields = {**contest_fields(slug="nairobi", currency="KES", country="KE", time_zone="Africa/Nairobi",
                               opens_at="2026-12-01T20:00", closes_at="2026-12-08T21:30"),
              "csrf_token": token}
    made = await client.post("/admin/contests/new", data=fields, allow_redirects=False)
    assert made.status == 303, await made.text()
    contest = await stored(sessions, "nairobi")
    assert (contest.country, contest.time_zone) == ("KE", "Africa/Nairobi")
    assert contest.opens_at == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 20:00 in Nairobi
    assert contest.closes_at == datetime(2026, 12, 8, 18, 30, tzinfo=UTC)
    form = await (await client.get(f"/admin/contests/{contest.id}/edit", params={"lang": "en"})).text()
    assert 'value="2026-12-01T20:00"' in form and 'value="2026-12-08T21:30"' in form
    assert 'value="Africa/Nairobi"' in form and '<option value="KE" selected>Kenya</option>' in form
    refused = await client.post("/admin/contests/new", data={**fields, "slug": "elsewhere", "time_zone": "Mars/Base"})
    assert refused.status == 400 and "is not a time zone" in await refused.text()


async def test_an_api_client_naming_no_country_gets_its_currency_s(client: TestClient, sessions: Sessions) -> None:
    organiser = bearer(await api_tokens(client, await make_account(sessions, "organiser")))
    for slug, currency in (("ksh", "KES"), ("fcfa", "XAF")):
        response = await client.post("/api/v1/admin/contests", json=contest_fields(slug=slug, currency=currency,
                                                                                    sms_keyword=slug.upper()),
                                     headers=organiser)
        assert response.status == 201, await response.text()
    kenyan = await (await client.get(f"/api/v1/admin/contests/{(await stored(sessions, 'ksh')).id}",
                                     headers=organiser)).json()
    assert (kenyan["country"], kenyan["time_zone"]) == ("KE", "Africa/Nairobi")
    assert ((await stored(sessions, "fcfa")).country, (await stored(sessions, "fcfa")).time_zone) == (
        "CM", "Africa/Douala")
