"""An owner refunds a paid order from the admin area (its page, or the API) by `gateway refund`'s own path:
Stripe and Stars through their APIs, mobile money marked for a refund by hand; the votes leave the board once;
audited with the owner's reason. Other roles may not; an order not paid, or refunded already, changes nothing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import respx
from aiohttp.test_utils import TestClient
from sqlalchemy import func, insert, select, update

from channels.telegram.fake_api import FakeBotApi
from gateway.core.money_out.refunds_sent import owe_refunds
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, OutboxMessage, Refund, RefundState, VoteOrder
from gateway.kit.keys import PROVIDERS
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, csrf_token, make_account
from tests.channel_names import Channel
from tests.factories import assert_tally_invariant, make_contest, place, tallies
from tests.payments.stripe.card_votes import paid_by_card

REASON = {"reason": "the payer voted for the wrong candidate"}


def refund_url(order_id: object) -> str:
    return f"/api/v1/admin/orders/{order_id}/refund"


async def counted(sessions: Sessions, table: type, **where: object) -> int:
    async with sessions() as session:
        found = await session.scalar(select(func.count()).select_from(table).filter_by(**where))
    return int(found or 0)


async def order_status(sessions: Sessions, order_id: uuid.UUID) -> OrderStatus:
    async with sessions() as session:
        status = await session.scalar(select(VoteOrder.status).where(VoteOrder.id == order_id))
    assert status is not None
    return status


async def test_an_owner_refunds_a_card_order_through_stripe_once_even_on_a_double_click(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    contest, order_id = await paid_by_card(card_client, sessions, stripe_wire, intent="pi_7")

    async def stripe_refunds(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)  # a provider's answer takes a while: the second click comes in meanwhile
        return httpx.Response(200, json={"id": "re_1", "object": "refund", "status": "succeeded", "amount": 500,
                                         "currency": "xaf", "payment_intent": "pi_7"})

    refund = stripe_wire.post("/v1/refunds").mock(side_effect=stripe_refunds)
    for role in ("organiser", "auditor", "support"):
        other = bearer(await api_tokens(card_client, await make_account(sessions, role)))
        refused = await card_client.post(refund_url(order_id), json=REASON, headers=other)
        assert refused.status == 403 and (await refused.json())["error"]["code"] == "forbidden"
    owner = bearer(await api_tokens(card_client, await make_account(sessions, "owner")))
    no_reason = await card_client.post(refund_url(order_id), json={"reason": "  "}, headers=owner)
    assert no_reason.status == 400 and (await no_reason.json())["error"]["field"] == "reason"
    assert refund.call_count == 0 and (await tallies(sessions, contest.id))["03"] == 5

    clicks = await asyncio.gather(*(card_client.post(refund_url(order_id), json=REASON, headers=owner)
                                    for _ in range(2)))
    answers = sorted([(r.status, await r.json()) for r in clicks], key=lambda answer: answer[0])
    assert answers[0] == (200, {"status": "refunded", "message": "Refunded by the provider."})
    assert answers[1][0] == 409 and answers[1][1]["error"]["code"] == "already_refunded"
    assert refund.call_count == 1 and "payment_intent=pi_7" in refund.calls[0].request.content.decode()
    assert (await tallies(sessions, contest.id))["03"] == 0
    assert await counted(sessions, OutboxMessage, topic="vote.uncounted") == 1  # the board hears it once
    await assert_tally_invariant(sessions, contest.id)
    async with sessions() as session:
        [entry] = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "order.refund"))).all()
    assert (entry.actor, entry.target) == ("owner@example.com", order_id)
    assert entry.details == {"status": "refunded", "message": "Refunded by the provider.", **REASON}
    assert entry.address is not None


async def test_a_refund_stripe_refuses_is_a_clear_error_and_changes_nothing(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    contest, order_id = await paid_by_card(card_client, sessions, stripe_wire, intent="pi_8")
    stripe_wire.post("/v1/refunds").respond(400, json={"error": {
        "type": "invalid_request_error", "code": "charge_disputed", "message": "This charge is disputed."}})
    owner = bearer(await api_tokens(card_client, await make_account(sessions, "owner")))
    refused = await card_client.post(refund_url(order_id), json=REASON, headers=owner)
    assert refused.status == 502 and (await refused.json())["error"]["code"] == "refund_failed"
    assert await order_status(sessions, uuid.UUID(order_id)) is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["03"] == 5
    assert await counted(sessions, AuditEntry, action="order.refund") == 0


async def test_an_owner_refunds_a_stars_order_through_the_bot_api(
        telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await telegram.say(5550003, "/start")
    for button in ("Star Quest", "04 Candidate 04", "10", "Pay 100 ⭐ in Telegram Stars"):
        await telegram.press(5550003, button)
    assert await telegram.pay(5550003)
    async with sessions() as session:
        order = (await session.scalars(select(VoteOrder))).one()
    assert (await tallies(sessions, contest.id))["04"] == 10

    owner = bearer(await api_tokens(bot_client, await make_account(sessions, "owner")))
    done = await bot_client.post(refund_url(order.id), json=REASON, headers=owner)
    assert done.status == 200 and (await done.json())["status"] == "refunded"
    assert telegram.calls_of("refundStarPayment") == [
        {"user_id": 5550003, "telegram_payment_charge_id": order.provider_txn_id}]
    assert (await tallies(sessions, contest.id))["04"] == 0
    again = await bot_client.post(refund_url(order.id), json=REASON, headers=owner)
    assert again.status == 409 and len(telegram.calls_of("refundStarPayment")) == 1
    assert await counted(sessions, OutboxMessage, topic="vote.uncounted") == 1
    assert await counted(sessions, AuditEntry, action="order.refund", target=str(order.id)) == 1


async def test_an_owner_marks_an_orange_money_order_for_a_refund_by_hand_from_its_page(
        client: TestClient, sessions: Sessions) -> None:
    """Orange Cameroon's merchant API offers no refund: a person pays it back (MTN's go out by API)."""
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "02", 3, provider="orange", channel=Channel.USSD, msisdn="+237690000444")
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "OM-1",
                                   provider="orange")
    pending = await place(sessions, contest, "01", 1, msisdn="+237670000555")
    support = await make_account(sessions, "support")
    owner = await make_account(sessions, "owner")

    support_token = await browser_sign_in(client, support)
    page = await (await client.get(f"/admin/orders/{order.id}")).text()
    assert f"/admin/orders/{order.id}/refund" not in page  # not theirs to do
    refused = await client.post(f"/admin/orders/{order.id}/refund", data={"csrf_token": support_token, **REASON})
    assert refused.status == 403
    await browser_sign_in(client, owner)
    page = await (await client.get(f"/admin/orders/{order.id}")).text()
    assert f'action="/admin/orders/{order.id}/refund"' in page and 'name="reason"' in page
    token = csrf_token(page)
    forged = await client.post(f"/admin/orders/{order.id}/refund", data=REASON)  # no CSRF token
    assert forged.status == 403 and await order_status(sessions, order.id) is OrderStatus.PAID

    done = await client.post(f"/admin/orders/{order.id}/refund", data={"csrf_token": token, **REASON},
                             allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == f"/admin/orders/{order.id}"
    assert await order_status(sessions, order.id) is OrderStatus.REFUND_REQUESTED
    assert (await tallies(sessions, contest.id))["02"] == 0
    await assert_tally_invariant(sessions, contest.id)
    page = await (await client.get(f"/admin/orders/{order.id}")).text()
    assert "Marked for a manual refund" in page and f'action="/admin/orders/{order.id}/refund"' not in page
    queue = await (await client.get("/admin/review")).text()
    assert str(order.id) in queue  # the money still has to go back by hand: the review queue says so

    again = await client.post(f"/admin/orders/{order.id}/refund", data={"csrf_token": token, **REASON})
    assert again.status == 409 and "already refunded" in await again.text()
    not_paid = await client.post(f"/admin/orders/{pending.id}/refund", data={"csrf_token": token, **REASON})
    assert not_paid.status == 409 and await order_status(sessions, pending.id) is OrderStatus.PENDING
    assert await counted(sessions, OutboxMessage, topic="vote.uncounted") == 1
    async with sessions() as session:
        entries = (await session.execute(select(AuditEntry.actor, AuditEntry.details["reason"].astext).where(
            AuditEntry.action == "order.refund"))).all()
    assert [tuple(e) for e in entries] == [("owner@example.com", REASON["reason"])]


async def test_the_refund_route_is_in_the_admin_openapi_document(client: TestClient) -> None:
    document = await (await client.get("/api/v1/admin/openapi.json")).json()
    operation = document["paths"]["/api/v1/admin/orders/{order_id}/refund"]["post"]
    assert operation["summary"].startswith("Owners: refund a paid order")
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Refund"}


async def test_an_owners_refund_of_an_mtn_order_shows_the_refund_mtn_sends(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "02", 2, channel=Channel.USSD, msisdn="+237670000446")
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "MTN-7",
                                   provider="mtn")
    await browser_sign_in(client, await make_account(sessions, "owner"))
    token = csrf_token(await (await client.get(f"/admin/orders/{order.id}")).text())
    done = await client.post(f"/admin/orders/{order.id}/refund", data={"csrf_token": token, **REASON},
                             allow_redirects=False)
    assert done.status == 303 and await order_status(sessions, order.id) is OrderStatus.REFUND_REQUESTED
    assert await owe_refunds(sessions, client.app[PROVIDERS]) == 1  # the worker's refunds pass, its first step
    page = await (await client.get(f"/admin/orders/{order.id}")).text()
    assert "Refunds sent by the provider" in page and "sends it back by itself" in page
    assert "<td>FCFA\u00a0200</td><td>requested</td>" in page  # its amount, as money


async def test_a_refund_mtn_paid_for_another_amount_shows_its_transaction_and_the_difference(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "02", 3, channel=Channel.USSD, msisdn="+237670000447")
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "MTN-8",
                                   provider="mtn")
    differs = f"the provider refunded 250 XAF, {order.amount} were owed"
    async with sessions.begin() as session:  # as the refunds pass settles one (gateway.core.money_out.transfers)
        await session.execute(update(VoteOrder).where(VoteOrder.id == order.id).values(status=OrderStatus.REFUNDED))
        await session.execute(insert(Refund).values(
            id=uuid.uuid4(), order_id=order.id, provider="mtn", amount=order.amount, currency="XAF",
            state=RefundState.SUCCEEDED, provider_txn_id="MTN-R8", provider_reason=differs, reason="voter asked",
            requested_by="owner@example.org"))
    await browser_sign_in(client, await make_account(sessions, "owner"))
    page = await (await client.get(f"/admin/orders/{order.id}")).text()
    # The record's sums (minor units, codes) written as money in the page's language.
    assert "<td>refunded</td><td>MTN-R8 · the provider refunded FCFA\u00a0250, FCFA\u00a0300 were owed</td>" in page
    page = await (await client.get(f"/admin/orders/{order.id}?lang=fr")).text()
    assert "<td>MTN-R8 · le fournisseur a remboursé 250\u00a0FCFA, 300\u00a0FCFA étaient dus</td>" in page
