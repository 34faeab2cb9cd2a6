"""A prompt Daraja takes but whose result says another prompt held the phone (ResultCode 1001): the vote is not lost,
a new prompt is pushed once the phone is free (by the web process on the callback's word, or by the reconciler when
that was lost), the dead prompt's late word stands only where its own query says it was paid, and after a few new
prompts the vote fails telling the voter, in their language, to finish the other prompt first. Our app and the
Daraja sandbox over localhost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from assembly.settings import Settings
from gateway.core.money_in.reconciler import reconcile
from gateway.core.money_in.starting import start_payment
from gateway.core.money_in.starting_again import STARTS_AGAIN
from gateway.core.money_in.verification.by_status import Verified, verify_due
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, ProviderEvent, VoteOrder
from gateway.kit.keys import PROVIDERS
from tests.factories import place
from tests.order_triggers import before_event_inserts, before_order_updates, until_order_paid
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa

HELD_ONCE = "+254712000457"  # the sandbox: its first prompt's result is 1001, the next one pays
HELD_ALWAYS = "+254712000458"  # every prompt's result is 1001
SWAHILI = {"Accept-Language": "sw-KE,sw;q=0.9"}


def slow_record(seconds: float) -> str:
    """PostgreSQL itself slowing each start's record (the update that sets payment_started_at), as a loaded database
    would."""
    return ("IF OLD.payment_started_at IS NULL AND NEW.payment_started_at IS NOT NULL THEN "
            f"PERFORM pg_sleep({seconds}); END IF;")


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        yield running


def checkouts(provider_data: dict[str, object]) -> tuple[list[str], str | None]:
    """The order's dead prompts and its live one."""
    earlier = provider_data.get("earlier_starts")
    assert isinstance(earlier, list)
    return [kept["checkout_request_id"] for kept in earlier], provider_data.get("checkout_request_id")  # type: ignore[return-value]


def paid_callback(checkout: str, shillings: float, receipt: str) -> dict[str, object]:
    return {"Body": {"stkCallback": {
        "MerchantRequestID": "1", "CheckoutRequestID": checkout, "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.", "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": shillings}, {"Name": "MpesaReceiptNumber", "Value": receipt}]}}}}


async def start_recorded(live: LiveMpesa, order_id: uuid.UUID, timeout: float = 10.0) -> VoteOrder:
    """The order once a start of it has been recorded (its record may land just after the start's task is seen
    done, or after the order was paid)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (order := await live.settled(order_id)).payment_started_at is None:
        assert asyncio.get_running_loop().time() < deadline, f"no start recorded: {order.provider_data}"
        await asyncio.sleep(0.02)
    return order


async def test_a_prompt_whose_result_is_1001_is_pushed_again_and_the_vote_counts_once(live: LiveMpesa) -> None:
    live.control.success_delay = 0.3  # Daraja's result comes after the start has recorded its prompt
    order_id = await live.vote(HELD_ONCE, quantity=3)
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID and order.amount == 3000
    dead, paid = checkouts(order.provider_data)
    assert len(dead) == 1 and paid is not None and paid not in dead  # a new CheckoutRequestID
    assert await live.votes() == 3
    # The dead prompt's word again, and a "payment" on it (any amount): neither counts, nor changes the receipt.
    for shillings in (30.0, 3.0):
        response = await live.client.post(live.callback_path(order_id),
                                          json=paid_callback(dead[0], shillings, "OLDPROMPT1"))
        assert response.status == 200
    assert (await live.settled(order_id)).provider_txn_id == order.provider_txn_id
    assert await live.votes() == 3


async def test_a_1001_that_comes_before_its_start_is_recorded_is_followed_by_a_new_prompt(live: LiveMpesa) -> None:
    """Daraja's result can beat the start's record of its CheckoutRequestID (the record slowed here by PostgreSQL
    itself): the callback's check has no prompt to query yet, so it asks again once the start is done."""
    async with before_order_updates(live.sessions, "slow_start_record", slow_record(0.3)):
        order_id = await live.vote(HELD_ONCE, quantity=2)
        await live.settled(order_id, timeout=10)
        # Paid by the new prompt's callback, which can beat that prompt's own (slowed) record too.
        order = await start_recorded(live, order_id)
    assert order.status is OrderStatus.PAID and await live.votes() == 2
    dead, paid = checkouts(order.provider_data)
    assert len(dead) == 1 and paid is not None and paid not in dead


# What a new prompt's start keeps (its CheckoutRequestID, before the start is recorded) waits for the order to be paid:
# the prompt's success is counted before the order knows the prompt, however loaded the machine.
NEW_PROMPT_KEPT_ONCE_PAID = (
    "IF NEW.kind = 'start.kept' AND EXISTS (SELECT 1 FROM provider_events WHERE order_id = NEW.order_id "
    f"AND kind = 'start.kept.earlier') THEN {until_order_paid()} END IF;")


async def test_a_new_prompt_paid_before_its_start_is_recorded_stays_counted_once_checked(live: LiveMpesa) -> None:
    """The new prompt's success is counted while the order knows no live prompt; its start's record lands after the
    order is paid and names the prompt, so the later check asks Daraja about that prompt, which agrees: the paid vote
    is not taken back."""
    async with before_event_inserts(live.sessions, "kept_once_paid", NEW_PROMPT_KEPT_ONCE_PAID):
        order_id = await live.vote(HELD_ONCE, quantity=2)
        await live.settled(order_id, timeout=20)
    order = await start_recorded(live, order_id)
    assert order.status is OrderStatus.PAID and await live.votes() == 2
    assert order.decided_at is not None and order.payment_started_at is not None
    assert order.decided_at < order.payment_started_at  # counted, then its start recorded
    dead, paid = checkouts(order.provider_data)
    assert len(dead) == 1 and paid is not None and paid not in dead
    verified = await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=1))
    assert verified == [(order_id, Verified.AGREED)]
    assert (await live.settled(order_id, timeout=0.1)).status is OrderStatus.PAID and await live.votes() == 2


async def test_a_1001_before_another_processs_start_is_recorded_is_followed_by_a_new_prompt(live: LiveMpesa) -> None:
    """The same when the start is another process's (the test's own here, as the worker's reconciler starts a lost
    one), even when its record comes seconds later: the callback's check asks again once that start is recorded,
    and this process pushes the new prompt."""
    order = await place(live.sessions, live.contest, "01", quantity=2, provider="mpesa", msisdn=HELD_ONCE)
    async with before_order_updates(live.sessions, "slow_start_record", slow_record(1.5)):
        started = await start_payment(live.sessions, live.client.app[PROVIDERS], order.id)
        assert started is not None and started.status is OrderStatus.PENDING
        settled = await live.settled(order.id, timeout=10)
    assert settled.status is OrderStatus.PAID and await live.votes() == 2
    dead, paid = checkouts(settled.provider_data)
    assert len(dead) == 1 and paid is not None and paid not in dead


async def test_a_dead_prompts_paid_word_is_checked_by_its_own_query_while_the_new_prompt_waits(
        live: LiveMpesa) -> None:
    """The 1001 comes by the query (its callback lost): the reconciler puts the order back and pushes again, which
    Daraja refuses while another prompt holds the phone. No CheckoutRequestID is the order's meanwhile, yet a payment
    reported on the dead prompt on the order's own URL is the order's (a prompt paid late is never dropped): counted,
    then checked by that prompt's query, which says it was never paid: the votes are taken back off and the order
    flagged for a person."""
    live.control.drop_callbacks = True
    order_id = await live.vote(HELD_ONCE, quantity=2)
    await asyncio.sleep(0.2)  # its prompt is decided (1001): the phone is free
    live.control.success_delay = 60.0
    holder = await live.vote(HELD_ONCE, quantity=1)  # another vote's prompt now holds the phone
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.outcomes == {"start_again": 1, "pending": 1}
    order = await live.settled(order_id, timeout=0.1)
    dead, live_one = checkouts(order.provider_data)
    assert order.status is OrderStatus.PENDING and len(dead) == 1 and live_one is None
    assert order.payment_started_at is None  # its start is owed again
    response = await live.client.post(live.callback_path(order_id), json=paid_callback(dead[0], 20.0, "OLDPROMPT2"))
    assert response.status == 200
    assert (await live.settled(order_id, timeout=0.1)).status is OrderStatus.PAID and await live.votes() == 2
    await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=1))
    assert (await live.settled(order_id, timeout=0.1)).status is OrderStatus.FLAGGED
    assert (await live.settled(holder, timeout=0.1)).status is OrderStatus.PENDING
    assert await live.votes() == 0


async def test_a_phone_held_every_time_fails_the_vote_telling_why_in_the_voters_language(live: LiveMpesa) -> None:
    order_id = await live.vote(HELD_ALWAYS, quantity=1)
    order = await live.settled(order_id, timeout=10)
    assert order.status is OrderStatus.FAILED
    assert order.status_reason == "A prompt is already open on this phone: finish it first. (PROMPT_PENDING)"
    dead, _ = checkouts(order.provider_data)
    assert len(dead) == STARTS_AGAIN  # bounded: the first prompt and STARTS_AGAIN new ones, all dead
    async with live.sessions() as session:
        pushes = await session.scalar(select(func.count()).select_from(ProviderEvent).where(
            ProviderEvent.order_id == order_id, ProviderEvent.kind.like("stk.1001")))
    assert pushes == STARTS_AGAIN + 1
    html = await (await live.client.get(f"/orders/{order_id}", headers=SWAHILI)).text()
    assert "Kuna ombi la malipo wazi kwenye simu hii: limalize kwanza." in html and "PROMPT_PENDING" not in html
    assert await live.votes() == 0


async def test_while_its_prompt_is_sent_again_the_voter_reads_why_in_their_language(live: LiveMpesa) -> None:
    live.control.drop_callbacks = True
    order_id = await live.vote(HELD_ALWAYS, quantity=1)
    await asyncio.sleep(0.2)  # its prompt is decided (1001)
    live.control.success_delay = 60.0  # the new prompt stays open
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.outcomes == {"restarted": 1}
    html = await (await live.client.get(f"/orders/{order_id}", headers=SWAHILI)).text()
    assert "Kuna ombi la malipo wazi kwenye simu hii: limalize kwanza." in html and "PROMPT_PENDING" not in html
    assert (await live.settled(order_id, timeout=0.1)).status is OrderStatus.PENDING
