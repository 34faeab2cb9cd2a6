"""An entry fee from the organiser's side: set on the call for entries (page and API), shown on each entry of the
queue as paid or not, and an unpaid entry refused approval with the reason on the page."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from gateway.db.engine import Sessions
from gateway.db.models import Entry, EntryCall
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, csrf_token, make_account
from tests.admin.entries_data import Client, an_entry
from tests.admin.test_entries_pages import candidate_rows, organiser_with_contest
from tests.factories import make_contest


async def test_the_organiser_asks_a_fee_and_approves_only_the_entries_that_paid_it(
        client: Client, sessions: Sessions) -> None:
    cid, token = await organiser_with_contest(client, sessions)
    call = {"csrf_token": token, "opens_at": "2027-01-01T10:00", "closes_at": "2027-01-10T10:00",
            "rules": "One clip.", "max_entries": ""}
    wrong = await client.post(f"/admin/contests/{cid}/entries/call", data={**call, "fee_amount": "0"})
    assert wrong.status == 400 and "entry fee" in (await wrong.text()).lower()
    assert (await client.post(f"/admin/contests/{cid}/entries/call", data={**call, "fee_amount": "1000"},
                              allow_redirects=False)).status == 303
    paid, unpaid = await an_entry(sessions, cid, "Awa Paid"), await an_entry(sessions, cid, "Ben Unpaid")
    # as the fee's confirmed payment marks it (tests/core/entries/test_entry_fee)
    async with sessions.begin() as session:
        await session.execute(update(Entry).where(Entry.id == paid.id).values(fee_paid_at=datetime.now(UTC)))
    html = await (await client.get(f"/admin/contests/{cid}/entries")).text()
    assert 'value="1000"' in html and html.count("fee not paid") == 1 and html.count("fee paid") == 1
    cents = await client.post(f"/admin/contests/{cid}/entries/call", data={**call, "fee_amount": "10.5"})
    assert cents.status == 400 and "XAF has no cents" in await cents.text()

    refused = await client.post(f"/admin/contests/{cid}/entries/approve", data={"csrf_token": token,
                                                                                "entry": str(unpaid.id)})
    assert refused.status == 409 and "Ben Unpaid has not paid the entry fee." in await refused.text()
    assert (await client.post(f"/admin/contests/{cid}/entries/approve", allow_redirects=False,
                              data={"csrf_token": token, "entry": str(paid.id)})).status == 303
    assert "Awa Paid" in candidate_rows(await (await client.get(f"/admin/contests/{cid}")).text()).values()


async def test_a_fee_in_shillings_is_typed_and_shown_in_shillings(client: Client, sessions: Sessions) -> None:
    contest = await make_contest(sessions, currency="KES", price_per_vote=1000, providers=["mpesa"], country="KE",
                                 time_zone="Africa/Nairobi")
    await browser_sign_in(client, await make_account(sessions, "owner"))
    url = f"/admin/contests/{contest.id}/entries"
    html = await (await client.get(url)).text()
    assert "Entry fee in KES, e.g. 10.50 (empty: free)" in html and "minor units" not in html
    call = {"csrf_token": csrf_token(html), "opens_at": "2027-01-01T10:00", "closes_at": "2027-01-10T10:00",
            "rules": "One clip.", "max_entries": ""}
    assert (await client.post(f"{url}/call", data={**call, "fee_amount": "10.50"}, allow_redirects=False)).status == 303
    async with sessions() as session:
        assert (await session.get(EntryCall, contest.id)).fee_amount == 1050  # type: ignore[union-attr]
    html = await (await client.get(url)).text()
    assert 'value="10.50"' in html  # the form shows what was typed, in shillings
    client.session.cookie_jar.clear()  # an auditor reads the call, the fee in shillings in each language
    await browser_sign_in(client, await make_account(sessions, "auditor"))
    assert "entry fee Ksh\u00a010.50" in await (await client.get(url)).text()
    assert "10,50\u00a0KES" in await (await client.get(f"{url}?lang=fr")).text()


async def test_the_api_sets_and_clears_the_fee(client: Client, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    url = f"/api/v1/admin/contests/{contest.id}/entries/call"
    body = {"opens_at": "2027-01-01T10:00:00Z", "closes_at": "2027-01-10T10:00:00Z", "rules": "One clip."}
    set_ = await client.put(url, headers=owner, json={**body, "fee_amount": 2500})
    assert set_.status == 200 and (await set_.json())["call"]["fee_amount"] == 2500
    bad = await client.put(url, headers=owner, json={**body, "fee_amount": "a lot"})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "fee_amount"
    cleared = await client.put(url, headers=owner, json={**body, "fee_amount": None})
    assert (await cleared.json())["call"]["fee_amount"] is None
    async with sessions() as session:
        assert (await session.get(EntryCall, contest.id)).fee_amount is None  # type: ignore[union-attr]
