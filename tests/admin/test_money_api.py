"""Money in the admin JSON API, as a script of an organiser's or an owner's would read it: the settlement's figures,
payouts asked for, approved with a fresh code and paid, each with our reference and the provider's transaction id,
and the refunds a provider sends, its reason when it refused one; exports of both; all of it in the OpenAPI
document."""

from __future__ import annotations

import csv
import io
import uuid

from aiohttp.test_utils import TestClient
from sqlalchemy import insert, update

from gateway.core.audit import Actor
from gateway.core.money_out import payouts
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import BANK_ACCOUNT, Contest, Refund, RefundState
from tests.admin.accounts import api_tokens, bearer, fresh_code, make_account
from tests.admin.entries_data import give_contest
from tests.factories import make_contest, place

BANK = "Afriland First Bank, 10005 00001 0123456789 01"


async def paid_contest(sessions: Sessions, votes: int = 10) -> Contest:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=votes)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "T1", provider="mtn")
    await payouts.set_account(sessions, Actor(None, "setup@example.org", "owner"), contest.id,
                              payouts.AccountDraft(BANK_ACCOUNT, "Ada Organiser SARL", bank_details=BANK))
    return contest


async def test_an_organiser_reads_the_settlement_and_asks_an_owner_approves_and_pays(
        client: TestClient, sessions: Sessions) -> None:
    contest, other = await paid_contest(sessions), await paid_contest(sessions)
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, organiser.id)
    theirs = bearer(await api_tokens(client, organiser))
    base = f"/api/v1/admin/contests/{contest.id}"

    figures = await (await client.get(f"{base}/settlement", headers=theirs)).json()
    [xaf] = figures["currencies"]
    assert (xaf["gross"], xaf["balance"], xaf["payable"], xaf["awaiting_verification"]) == (1000, 1000, 1000, 0)
    assert xaf["providers"] == [{"provider": "mtn", "payments": 1, "gross": 1000, "refunds": 0, "fees": 0}]
    assert (await client.get(f"/api/v1/admin/contests/{other.id}/settlement", headers=theirs)).status == 404

    over = await client.post(f"{base}/payouts", json={"currency": "XAF", "amount": 1001}, headers=theirs)
    assert over.status == 409 and (await over.json())["error"]["code"] == "over_balance"
    asked = await client.post(f"{base}/payouts", json={"currency": "XAF", "amount": 600}, headers=theirs)
    assert asked.status == 201
    payout = await asked.json()
    assert payout["state"] == "awaiting_approval" and payout["reference"] == payout["id"]
    assert uuid.UUID(payout["reference"]) and payout["provider_txn_id"] is None

    owner = await make_account(sessions, "owner")
    owners = bearer(await api_tokens(client, owner))
    at = f"{base}/payouts/{payout['id']}"
    wrong = await client.post(f"/api/v1/admin/contests/{other.id}/payouts/{payout['id']}/approve",
                              json={"code": await fresh_code(client, owner)}, headers=owners)
    assert wrong.status == 404  # another contest's URL finds no such payout
    bad_code = await client.post(f"{at}/approve", json={"code": "000000"}, headers=owners)
    assert bad_code.status == 403 and (await bad_code.json())["error"]["code"] == "wrong_code"
    approved = await client.post(f"{at}/approve", json={"code": await fresh_code(client, owner)}, headers=owners)
    assert approved.status == 200 and (await approved.json())["state"] == "by_hand"
    assert (await client.post(f"{at}/paid", json={"proof": "VIR-0042"}, headers=owners)).status == 200
    listed = await (await client.get(f"{base}/payouts", headers=theirs)).json()
    assert [(p["reference"], p["state"], p["proof"]) for p in listed["payouts"]] == [
        (payout["id"], "succeeded", "VIR-0042")]
    assert listed["account"]["kind"] == "bank"
    [xaf] = (await (await client.get(f"{base}/settlement", headers=theirs)).json())["currencies"]
    assert (xaf["paid_out"], xaf["balance"]) == (600, 400)


async def test_refunds_show_our_reference_the_providers_and_why_it_refused(client: TestClient,
                                                                            sessions: Sessions) -> None:
    contest = await paid_contest(sessions)
    order = await place(sessions, contest, quantity=2)
    reference = uuid.uuid4()
    async with sessions.begin() as session:
        await session.execute(insert(Refund).values(
            id=reference, order_id=order.id, provider="mtn", amount=order.amount, currency="XAF",
            state=RefundState.FAILED, provider_reason="NOT_ENOUGH_FUNDS", reason="voter asked", requested_by="x"))
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    found = await (await client.get(f"/api/v1/admin/contests/{contest.id}/refunds", headers=auditor)).json()
    assert [(r["reference"], r["order_id"], r["state"], r["provider_reason"]) for r in found["refunds"]] == [
        (str(reference), str(order.id), "failed", "NOT_ENOUGH_FUNDS")]
    export = await client.get(f"/api/v1/admin/contests/{contest.id}/exports/refunds.csv", headers=auditor)
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    assert [(r["reference"], r["state"], r["provider_reason"]) for r in rows] == [
        (str(reference), "failed", "NOT_ENOUGH_FUNDS")]
    document = await (await client.get("/api/v1/admin/openapi.json")).json()
    for path in ("settlement", "payouts", "refunds", "payouts/{payout_id}/approve"):
        assert f"/api/v1/admin/contests/{{contest_id}}/{path}" in document["paths"], path


async def test_refunds_owed_together_are_listed_in_the_same_order_at_each_look(client: TestClient,
                                                                              sessions: Sessions) -> None:
    """A cancelled contest's refunds are owed in one statement, all at the same moment; then each is written again
    as its provider answers, in its own order."""
    contest = await paid_contest(sessions)
    orders = [await place(sessions, contest, msisdn=f"+23767000{n:04d}") for n in range(6)]
    references = sorted(uuid.uuid4() for _ in orders)
    async with sessions.begin() as session:
        await session.execute(insert(Refund), [
            {"id": reference, "order_id": order.id, "provider": "mtn", "amount": order.amount, "currency": "XAF",
             "reason": "contest cancelled", "requested_by": "system"} for reference, order in zip(references, orders,
                                                                                               strict=True)])
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    url = f"/api/v1/admin/contests/{contest.id}/refunds"
    first = [r["reference"] for r in (await (await client.get(url, headers=auditor)).json())["refunds"]]
    async with sessions.begin() as session:
        for reference in references[::2]:
            await session.execute(update(Refund).where(Refund.id == reference).values(state=RefundState.SENT))
    again = [r["reference"] for r in (await (await client.get(url, headers=auditor)).json())["refunds"]]
    assert first == again == [str(reference) for reference in reversed(references)]
