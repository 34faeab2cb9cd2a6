"""An entry fee from the organiser's side: set on the call for entries (page and API), shown on each entry of the
queue as paid or not, and an unpaid entry refused approval with the reason on the page."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from gateway.db.engine import Sessions
from gateway.db.models import Entry, EntryCall
from tests.admin.accounts import api_tokens, bearer, make_account
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
    async with sessions.begin() as session:  # as the fee's confirmed payment marks it (tests/media/test_entry_fee)
        await session.execute(update(Entry).where(Entry.id == paid.id).values(fee_paid_at=datetime.now(UTC)))
    html = await (await client.get(f"/admin/contests/{cid}/entries")).text()
    assert 'value="1000"' in html and html.count("fee not paid") == 1 and html.count("fee paid") == 1

    refused = await client.post(f"/admin/contests/{cid}/entries/approve", data={"csrf_token": token,
                                                                                "entry": str(unpaid.id)})
    assert refused.status == 409 and "Ben Unpaid has not paid the entry fee." in await refused.text()
    assert (await client.post(f"/admin/contests/{cid}/entries/approve", allow_redirects=False,
                              data={"csrf_token": token, "entry": str(paid.id)})).status == 303
    assert "Awa Paid" in candidate_rows(await (await client.get(f"/admin/contests/{cid}")).text()).values()


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
