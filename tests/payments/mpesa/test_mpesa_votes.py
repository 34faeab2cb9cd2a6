"""M-Pesa votes end to end, our app and the Daraja sandbox speaking over localhost: a vote counted once from its
callback and verified by the prompt's query, duplicate and forged callbacks, a cancelled prompt, a lost callback
found by the reconciler, and a second prompt refused while one is open on the phone without losing the vote."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.core.money_in.collections import KEPT_DURING_START, load_collection
from gateway.core.money_in.reconciler import reconcile
from gateway.core.money_in.verification.by_status import Verified, verify_due
from gateway.core.orders import tables
from gateway.core.providers import PaymentState
from gateway.db import seed
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, ProviderEvent
from gateway.kit.keys import PROVIDERS
from payments.mpesa.stk_push import ASKED, CHECKOUT, PAID_PROMPT
from tests.factories import place
from tests.order_triggers import before_event_inserts, until_order_paid
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        yield running


async def test_a_vote_counts_once_from_its_callback_and_the_query_verifies_it(live: LiveMpesa) -> None:
    order_id = await live.vote(quantity=5)
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID and order.amount == 5000 and order.currency == "KES"
    assert order.provider_txn_id and len(order.provider_txn_id) == 10  # the M-Pesa receipt number
    assert await live.votes() == 5
    async with live.sessions() as session:
        kinds = [(event.kind, event.outcome) for event in await session.scalars(select(ProviderEvent).where(
            ProviderEvent.order_id == order_id, ProviderEvent.kind != KEPT_DURING_START))]
    assert kinds == [("stk.0", "counted")]  # counted from the callback itself, no query first
    verified = await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=1))
    assert verified == [(order_id, Verified.AGREED)]
    assert await live.votes() == 5


async def test_a_duplicate_callback_counts_nothing_more(live: LiveMpesa) -> None:
    live.control.duplicate_callbacks = 4
    order_id = await live.vote(quantity=3)
    assert (await live.settled(order_id)).status is OrderStatus.PAID
    async with live.sessions() as session:
        event = (await session.scalars(select(ProviderEvent).where(ProviderEvent.kind == "stk.0"))).first()
    assert event is not None
    again = await live.client.post(live.callback_path(order_id), data=event.body,
                                   headers={"Content-Type": "application/json"})
    assert again.status == 200
    await live.settled(order_id)
    assert await live.votes() == 3


async def test_a_cancelled_prompt_fails_the_vote_telling_the_voter_why(live: LiveMpesa) -> None:
    order = await live.settled(await live.vote("+254712000451"))
    assert order.status is OrderStatus.FAILED
    assert order.status_reason == "The payment was cancelled on the phone. (CANCELLED)"
    assert await live.votes() == 0


@pytest.mark.parametrize(("msisdn", "status", "reason"), [
    ("+254712000452", OrderStatus.EXPIRED, "did not answer the prompt"),
    ("+254712000455", OrderStatus.FAILED, "not enough money"),
    ("+254712000456", OrderStatus.FAILED, "wrong PIN was entered on the phone")])
async def test_each_refusal_reads_as_its_reason(live: LiveMpesa, msisdn: str, status: OrderStatus,
                                                reason: str) -> None:
    order = await live.settled(await live.vote(msisdn))
    assert order.status is status and reason in (order.status_reason or "")
    assert await live.votes() == 0


async def test_a_lost_callback_is_found_by_the_reconcilers_query(live: LiveMpesa) -> None:
    live.control.drop_callbacks = True
    order_id = await live.vote()
    assert (await live.settled(order_id, timeout=0.3)).status is OrderStatus.PENDING
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.changed == [(order_id, "counted")]
    assert await live.votes() == 5


async def test_a_second_prompt_refused_while_one_is_open_is_sent_once_that_one_is_done(live: LiveMpesa) -> None:
    live.control.success_delay = 1.0  # the first prompt stays open on the phone for a second
    first = await live.vote(quantity=2)
    second = await live.vote(quantity=3, wait=False)
    await asyncio.sleep(0.3)  # its prompt was refused (500.001.1001): the order waits, nothing is lost
    waiting = await tables.get_order(live.sessions, second)
    assert waiting.status is OrderStatus.PENDING and waiting.payment_started_at is None
    await live.client.app[STARTS].wait_idle()  # sent again once the first prompt is done
    assert (await live.settled(first)).status is OrderStatus.PAID
    assert (await live.settled(second, timeout=10)).status is OrderStatus.PAID
    assert await live.votes() == 5


async def test_a_callback_on_a_wrong_secret_is_refused_and_counts_nothing(live: LiveMpesa) -> None:
    order_id = await live.vote("+254712000453")  # a prompt nobody answers: only the forgery would decide it
    order = await tables.get_order(live.sessions, order_id)
    forged = {"Body": {"stkCallback": {
        "MerchantRequestID": "1", "CheckoutRequestID": order.provider_data["checkout_request_id"], "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.", "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": 50.0}, {"Name": "MpesaReceiptNumber", "Value": "FORGED0001"}]}}}}
    another_orders = live.callback_path(uuid.uuid4()).rsplit("=", 1)[1]
    for secret in ("not-the-secret", another_orders):
        response = await live.client.post(live.callback_path(order_id, secret), json=forged)
        assert response.status == 400
    assert (await live.settled(order_id, timeout=0.3)).status is OrderStatus.PENDING
    assert await live.votes() == 0


def paid_callback(checkout: str, shillings: float, receipt: str) -> dict[str, object]:
    return {"Body": {"stkCallback": {
        "MerchantRequestID": "1", "CheckoutRequestID": checkout, "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.", "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": shillings}, {"Name": "MpesaReceiptNumber", "Value": receipt}]}}}}


async def test_a_payment_reported_before_the_start_kept_its_prompt_counts_at_once(live: LiveMpesa) -> None:
    """Daraja may call back before the start has written down the CheckoutRequestID it answered: the order's own
    URL vouches for it, so the vote counts then, not a query's pass later; one for another amount does not."""
    early = await place(live.sessions, live.contest, quantity=2, provider="mpesa", msisdn="+254712000001")
    other = await place(live.sessions, live.contest, quantity=2, provider="mpesa", msisdn="+254712000002")
    for order, shillings in ((early, 20.0), (other, 2.0)):
        response = await live.client.post(live.callback_path(order.id),
                                          json=paid_callback(f"ws_CO_{order.id.hex[:12]}", shillings, "SBC0000001"))
        assert response.status == 200
    assert (await tables.get_order(live.sessions, early.id)).status is OrderStatus.PAID
    assert (await tables.get_order(live.sessions, other.id)).status is OrderStatus.PENDING
    assert await live.votes() == 2


async def test_the_kenyan_demo_contest_is_seeded_once_and_takes_an_mpesa_vote(live: LiveMpesa) -> None:
    kenya = await seed.seed_kenya_demo(live.sessions)
    assert (await seed.seed_kenya_demo(live.sessions)).id == kenya.id
    assert (kenya.currency, kenya.price_per_vote, kenya.providers) == ("KES", 1000, ["mpesa"])
    voter = replace(live, contest=kenya)
    order = await voter.settled(await voter.vote(quantity=2))
    assert order.status is OrderStatus.PAID and order.amount == 2000
    assert await voter.votes() == 2


async def test_the_contests_page_offers_m_pesa_by_its_name(live: LiveMpesa) -> None:
    page = await live.client.get(f"/c/{live.contest.slug}/vote")
    assert page.status == 200
    assert "M-Pesa" in await page.text()


# The start's keep of the prompt Daraja took fails, as a database error at that moment (or a process dying before
# it) would, once the prompt's success has been counted: no start ever records that prompt.
KEEP_FAILS_ONCE_PAID = (
    f"IF NEW.kind = 'start.kept' THEN {until_order_paid()} "
    "RAISE EXCEPTION 'could not extend file: No space left on device'; END IF;")


async def test_a_prompt_paid_that_its_start_never_recorded_stays_counted_once_checked(live: LiveMpesa) -> None:
    """The order knows the prompt by its callback alone: the later check asks Daraja about that prompt, which says it
    was paid, and the vote stays counted (not taken back for want of a prompt to ask about)."""
    async with before_event_inserts(live.sessions, "keep_fails_once_paid", KEEP_FAILS_ONCE_PAID):
        order_id = await live.vote(quantity=2)
        order = await live.settled(order_id, timeout=20)
    assert order.status is OrderStatus.PAID and order.payment_started_at is None and await live.votes() == 2
    verified = await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=1))
    assert verified == [(order_id, Verified.AGREED)]
    assert (await live.settled(order_id)).status is OrderStatus.PAID and await live.votes() == 2


async def test_the_prompt_a_paying_callback_named_answers_the_query_beside_a_later_unpaid_one(
        live: LiveMpesa) -> None:
    """An order paid by a prompt it knew from its callback alone, whose later start (pushed before that callback
    came) recorded another prompt, never paid: the query asks about the paid one too and says paid, rather than
    answering for the unpaid prompt the order holds as its own."""
    live.control.drop_callbacks = True
    paid_id = await live.vote(quantity=2)  # paid at Daraja, its callback lost
    open_id = await live.vote("+254712000453", quantity=2)  # a prompt that stays open
    async with live.sessions() as session:
        paid_loaded, open_loaded = await load_collection(session, paid_id), await load_collection(session, open_id)
    assert paid_loaded is not None and open_loaded is not None
    paid_prompt, open_prompt = paid_loaded[1].provider_data, open_loaded[1].provider_data
    collection = replace(paid_loaded[1], provider_txn_id="SBC0000002", provider_data={
        **open_prompt, PAID_PROMPT: {CHECKOUT: paid_prompt[CHECKOUT], ASKED: paid_prompt[ASKED]}})
    provider = live.client.app[PROVIDERS].for_order("mpesa", "web")
    deadline = asyncio.get_running_loop().time() + 10
    while (status := await provider.fetch_status(collection)).state is not PaymentState.SUCCESSFUL:
        assert asyncio.get_running_loop().time() < deadline, status  # the paid prompt is decided in 0.05 s
        await asyncio.sleep(0.05)
    assert status.amount == 2000


async def test_a_prompts_success_sent_again_on_another_orders_url_counts_nothing_there(live: LiveMpesa) -> None:
    """A prompt is one order's: its success, counted there, counts nothing on another order's URL, even one with
    that order's secret and no prompt of its own yet (whose later query would otherwise ask about the paid prompt
    named, and agree)."""
    first = await live.vote(quantity=2)
    paid = await live.settled(first)
    assert paid.status is OrderStatus.PAID
    other = await place(live.sessions, live.contest, quantity=2, provider="mpesa", msisdn="+254712000002")
    response = await live.client.post(live.callback_path(other.id), json=paid_callback(
        paid.provider_data[CHECKOUT], 20.0, paid.provider_txn_id or ""))
    assert response.status == 200
    assert (await tables.get_order(live.sessions, other.id)).status is OrderStatus.PENDING
    assert await live.votes() == 2
