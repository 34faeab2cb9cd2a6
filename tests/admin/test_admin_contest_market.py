"""An organiser sets a contest's country and time zone: the times typed in its form are on that clock (kept in UTC)
and shown back on it; an API client that names no country gets its currency's."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import Contest, EntryCall
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, make_account
from tests.factories import make_contest


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
                               providers="mpesa", price_per_vote="10",
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
    for slug, currency, providers in (("ksh", "KES", ["mpesa"]), ("fcfa", "XAF", ["mtn"])):
        response = await client.post("/api/v1/admin/contests", json=contest_fields(slug=slug, currency=currency,
                                                                                    price_per_vote=1000,
                                                                                    providers=providers,
                                                                                    sms_keyword=slug.upper()),
                                     headers=organiser)
        assert response.status == 201, await response.text()
    kenyan = await (await client.get(f"/api/v1/admin/contests/{(await stored(sessions, 'ksh')).id}",
                                     headers=organiser)).json()
    assert (kenyan["country"], kenyan["time_zone"]) == ("KE", "Africa/Nairobi")
    assert ((await stored(sessions, "fcfa")).country, (await stored(sessions, "fcfa")).time_zone) == (
        "CM", "Africa/Douala")


async def test_the_contest_s_pages_and_its_call_for_entries_read_and_type_its_own_clock(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="nairobi", country="KE", time_zone="Africa/Nairobi",
                                 opens_at=datetime(2026, 12, 1, 17, 0, tzinfo=UTC),
                                 closes_at=datetime(2026, 12, 8, 18, 30, tzinfo=UTC))
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    page = await (await client.get(f"/admin/contests/{contest.id}", params={"lang": "en"})).text()
    assert "2026-12-01 20:00 EAT to 2026-12-08 21:30 EAT" in page
    listed = await (await client.get("/admin/contests")).text()
    assert "2026-12-08 21:30 EAT" in listed
    saved = await client.post(f"/admin/contests/{contest.id}/entries/call", allow_redirects=False, data={
        "csrf_token": token, "opens_at": "2026-11-01T09:00", "closes_at": "2026-11-20T18:00", "rules": "Sing."})
    assert saved.status == 303
    async with sessions() as session:
        call = await session.scalar(select(EntryCall).where(EntryCall.contest_id == contest.id))
    assert call is not None and call.opens_at == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 09:00 in Nairobi
    shown = await (await client.get(f"/admin/contests/{contest.id}/entries")).text()
    assert 'value="2026-11-01T09:00"' in shown and 'value="2026-11-20T18:00"' in shown
