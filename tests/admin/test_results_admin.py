"""Signed results in the admin area: owners and auditors sign on demand (audited), organisers may
not; the public key is shown; the sheet signed checks against it."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.core.orders import counting
from gateway.core.results import signing
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.factories import RULES_OFF, assert_tally_invariant, make_contest, place


async def test_an_auditor_signs_the_results_on_demand_and_an_organiser_may_not(client: TestClient,
                                                                                sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF)
    order = await place(sessions, contest, "03", quantity=4)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "T1",
                                   provider=order.provider)
    organiser = bearer(await api_tokens(client, await make_account(sessions, "organiser")))
    refused = await client.post(f"/api/v1/admin/contests/{contest.id}/results/sign", headers=organiser)
    assert refused.status == 403

    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    signed = await client.post(f"/api/v1/admin/contests/{contest.id}/results/sign", headers=auditor)
    assert signed.status == 201, await signed.text()
    body = await signed.json()
    assert "candidate,03,Candidate 03,4,400,XAF" in body["sheet"] and body["entries"] == 1
    key = await (await client.get("/api/v1/admin/results-key", headers=auditor)).json()
    public = signing.public_key(key["pem"].encode())
    assert signing.signature_holds(public, body["sheet"].encode(), body["signature"].encode())
    assert not signing.signature_holds(public, body["sheet"].replace(",4,400,", ",40,400,").encode(),
                                       body["signature"].encode())
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "results.sign"))).one()
    assert entry.actor == "auditor@example.com" and entry.details["entries"] == 1


async def test_the_owner_sees_the_public_key_and_signs_from_the_page(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    page = await client.get(f"/admin/contests/{contest.id}/results")
    html = await page.text()
    assert page.status == 200 and "-----BEGIN PUBLIC KEY-----" in html and "No sheet signed yet" in html
    posted = await client.post(f"/admin/contests/{contest.id}/results/sign", data={"csrf_token": token},
                               allow_redirects=False)
    assert posted.status == 303
    after = await (await client.get(posted.headers["Location"])).text()
    assert "on_demand" in after and f"/admin/contests/{contest.id}/results/" in after
    [sheet] = await signing.sheets_of(sessions, contest.id)
    download = await client.get(f"/admin/contests/{contest.id}/results/{sheet.id}.csv")
    assert download.status == 200 and await download.read() == sheet.sheet


async def test_a_held_order_refused_in_the_review_queue_is_on_the_ledger_and_its_voter_sees_why(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={**RULES_OFF, "payer_orders_per_10_minutes": 1})
    first = await place(sessions, contest, "03", 1)
    held = await place(sessions, contest, "03", 4)  # the same payer again: held once paid
    for order in (first, held):
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"t-{order.id}",
                                       provider="mtn")
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    refuse = {"kind": "held", "decision": "refund", "reason": "a bot farm"}
    done = await client.post(f"/api/v1/admin/review/{held.id}", json=refuse, headers=owner)
    assert done.status == 200 and (await done.json())["status"] == "refund_requested"
    seen = await (await client.get(f"/api/v1/receipts/{held.id.hex[:8]}")).json()
    assert seen["outcome"] == "rejected"
    assert [(e["seq"], e["kind"], e["quantity"]) for e in seen["ledger_entries"]] == [(2, "rejected", 0)]
    await assert_tally_invariant(sessions, contest.id)
