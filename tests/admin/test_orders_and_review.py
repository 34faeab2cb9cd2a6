"""Orders found and opened from the admin area, a receipt sent again, and the review queue's
decisions: each by the right role only, with a reason, audited, the tally equal to the paid votes."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from gateway.core.orders import closing, counting
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, OutboxMessage, VoteOrder
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.channel_names import Channel
from tests.factories import assert_tally_invariant, make_contest, place, tallies
from tests.fakes.mtn import FakeMtn


async def test_orders_are_searched_opened_and_a_receipt_is_sent_again(client: TestClient, sessions: Sessions
                                                                       ) -> None:
    contest = await make_contest(sessions)
    sms = await place(sessions, contest, "02", 3, channel=Channel.SMS, msisdn="+237670000111")
    await place(sessions, contest, "01", 1, msisdn="+237670000222")
    await counting.confirm_payment(sessions, sms.id, "SUCCESSFUL", sms.amount, sms.currency, "txn-1", provider="mtn")
    support = bearer(await api_tokens(client, await make_account(sessions, "support")))
    organiser = bearer(await api_tokens(client, await make_account(sessions, "organiser")))

    found = await (await client.get("/api/v1/admin/orders", params={"msisdn": "670000111"},
                                    headers=support)).json()
    assert [o["id"] for o in found["orders"]] == [str(sms.id)]
    paid = await (await client.get("/api/v1/admin/orders", params={"status": "paid", "candidate": "02"},
                                   headers=support)).json()
    assert [o["provider_txn_id"] for o in paid["orders"]] == ["txn-1"]
    by_ref = await (await client.get("/api/v1/admin/orders", params={"reference": "txn-1"}, headers=support)).json()
    assert len(by_ref["orders"]) == 1
    assert (await (await client.get("/api/v1/admin/orders", headers=organiser)).json())["orders"] == []  # not theirs
    assert (await client.get("/api/v1/admin/orders", params={"status": "weird"}, headers=support)).status == 400

    resent = await client.post(f"/api/v1/admin/orders/{sms.id}/resend", headers=support)
    assert resent.status == 202 and (await resent.json())["queued"] == "order.paid"
    detail = await (await client.get(f"/api/v1/admin/orders/{sms.id}", headers=support)).json()
    assert [m["topic"] for m in detail["messages"]].count("order.paid") == 2
    assert [a["action"] for a in detail["audit"]] == ["order.resend_receipt"]
    assert (await client.post(f"/api/v1/admin/orders/{sms.id}/resend", headers=organiser)).status == 403
    page = await client.get(f"/admin/orders/{sms.id}", headers=support)
    assert page.status == 200 and "txn-1" in await page.text()


async def test_review_decisions_are_the_owners_with_a_reason_and_keep_the_tally_right(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions)
    counted = await place(sessions, contest, "01", 4)
    refunded = await place(sessions, contest, "02", 2, msisdn="+237670000333")
    for order in (counted, refunded):
        await closing.flag_order(sessions, order.id, "success after the order expired")
    # MTN's word on the one given back: its money came in (a refund of money that never did is refused)
    fake_mtn.statuses[str(refunded.payment_reference)] = {"status": "SUCCESSFUL", "amount": "200", "currency": "XAF",
                                                          "financialTransactionId": "mtn-txn-2"}
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))

    queue = await (await client.get("/api/v1/admin/review", headers=auditor)).json()
    assert {i["order_id"] for i in queue["items"]} == {str(counted.id), str(refunded.id)}
    decision = {"kind": "flagged", "decision": "count", "reason": "paid in full on the MTN portal"}
    assert (await client.post(f"/api/v1/admin/review/{counted.id}", json=decision, headers=auditor)).status == 403
    no_reason = await client.post(f"/api/v1/admin/review/{counted.id}", json={**decision, "reason": " "},
                                  headers=owner)
    assert no_reason.status == 400
    assert await tallies(sessions, contest.id) == {f"{i:02d}": 0 for i in range(1, 6)}

    done = await client.post(f"/api/v1/admin/review/{counted.id}", json=decision, headers=owner)
    assert done.status == 200 and (await done.json())["status"] == "paid"
    assert (await tallies(sessions, contest.id))["01"] == 4
    await assert_tally_invariant(sessions, contest.id)
    again = await client.post(f"/api/v1/admin/review/{counted.id}", json=decision, headers=owner)
    assert again.status == 404 and (await tallies(sessions, contest.id))["01"] == 4  # counted once

    reject = {"kind": "flagged", "decision": "refund", "reason": "the payer asked for their money back"}
    assert (await (await client.post(f"/api/v1/admin/review/{refunded.id}", json=reject, headers=owner)).json()
            )["status"] == "refund_requested"
    queue = await (await client.get("/api/v1/admin/review", headers=owner)).json()
    assert [(i["order_id"], i["kind"]) for i in queue["items"]] == [(str(refunded.id), "refund_requested")]
    by_hand = {"kind": "refund_requested", "decision": "refunded_by_hand", "reason": "sent back by MoMo"}
    assert (await (await client.post(f"/api/v1/admin/review/{refunded.id}", json=by_hand, headers=owner)).json()
            )["status"] == "refunded"
    await assert_tally_invariant(sessions, contest.id)
    assert (await (await client.get("/api/v1/admin/review", headers=owner)).json())["items"] == []
    async with sessions() as session:
        entries = (await session.execute(select(AuditEntry.actor, AuditEntry.action).where(
            AuditEntry.action.startswith("review.")).order_by(AuditEntry.id))).all()
        status = await session.scalar(select(VoteOrder.status).where(VoteOrder.id == refunded.id))
        receipts = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic == "vote.confirmed"))
    assert [tuple(e) for e in entries] == [("owner@example.com", f"review.{d}")
                                           for d in ("count", "refund", "refunded_by_hand")]
    assert status is OrderStatus.REFUNDED and receipts == 1  # the board heard of the counted vote


async def test_a_refused_action_on_a_page_is_told_in_words(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    web_order = await place(sessions, contest, "01", 1)
    token = await browser_sign_in(client, await make_account(sessions, "support"))
    response = await client.post(f"/admin/orders/{web_order.id}/resend", data={"csrf_token": token})
    assert response.status == 409 and response.content_type == "text/plain"
    assert "receipt" in await response.text()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "order.resend_receipt")) == 0


async def test_an_order_held_by_a_fraud_rule_is_counted_once_from_the_review_queue(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"payer_orders_per_10_minutes": 1})
    first = await place(sessions, contest, "03", 1)
    held = await place(sessions, contest, "03", 4)  # the same payer again: held once paid
    for order in (first, held):
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"t-{order.id}",
                                       provider="mtn")
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    queue = await (await client.get("/api/v1/admin/review", headers=owner)).json()
    assert [(i["order_id"], i["kind"]) for i in queue["items"]] == [(str(held.id), "held")]
    assert (await tallies(sessions, contest.id))["03"] == 1  # not on the board while held

    decision = {"kind": "held", "decision": "count", "reason": "a known fan, called back"}
    done = await client.post(f"/api/v1/admin/review/{held.id}", json=decision, headers=owner)
    assert done.status == 200 and (await done.json())["status"] == "paid"
    assert (await tallies(sessions, contest.id))["03"] == 5
    again = await client.post(f"/api/v1/admin/review/{held.id}", json=decision, headers=owner)
    assert again.status == 404 and (await tallies(sessions, contest.id))["03"] == 5  # counted once
    await assert_tally_invariant(sessions, contest.id)


async def test_an_order_paid_after_the_close_is_named_so_on_its_page(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala")
    order = await place(sessions, contest)
    async with sessions.begin() as session:  # as the counting statement leaves a payment confirmed past the grace
        await session.execute(update(VoteOrder).where(VoteOrder.id == order.id).values(status=OrderStatus.LATE))
    await browser_sign_in(client, await make_account(sessions, "owner"))
    page = await (await client.get(f"/admin/orders/{order.id}")).text()
    assert "paid after the close: refunded" in page
