"""A prompt whose result is 1001 (another held the phone), when its order's start is not a plain one: a slow check of
the dead prompt whose answer comes after the order was put back and its new prompt pushed must leave that new
prompt alone, so the voter who pays it is counted, once; and a start cut short (its process died after Daraja took
the prompt, before the start was recorded) is started again once its lease is over. Our app and the Daraja sandbox
over localhost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from assembly.settings import Settings
from gateway.core.money_in.checking import check_payment
from gateway.core.money_in.reconciler import reconcile
from gateway.core.orders.outcomes import Outcome
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from gateway.kit.keys import PROVIDERS
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa
from tests.payments.mpesa.test_mpesa_prompt_again import HELD_ONCE, checkouts


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        yield running


async def test_a_slow_check_of_the_dead_prompt_leaves_the_new_prompt_to_be_paid(live: LiveMpesa) -> None:
    live.control.drop_callbacks = True  # the 1001 is found by the query, not told
    order_id = await live.vote(HELD_ONCE, quantity=2)
    await asyncio.sleep(0.2)  # its first prompt is decided: 1001
    providers = live.client.app[PROVIDERS]
    live.control.answer_delay = 2.0  # this check's query of the dead prompt is answered late...
    slow = asyncio.create_task(check_payment(live.sessions, providers, order_id, note=False))
    async with asyncio.timeout(10):
        while not live.control.answers_held:  # ...once it is in the sandbox, held (a loaded machine takes a while)
            await asyncio.sleep(0.01)
    live.control.answer_delay = 0.0  # ...after the reconciler put the order back and pushed its new prompt
    live.control.drop_callbacks = False
    live.control.success_delay = 0.6  # the new prompt is paid once the slow check is answered
    report = await reconcile(live.sessions, providers, now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.outcomes == {"restarted": 1}
    assert await slow == Outcome.PENDING  # about a prompt that is no longer the order's: nothing to do
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID and order.amount == 2000
    dead, paid = checkouts(order.provider_data)
    assert len(dead) == 1 and paid is not None and paid not in dead
    assert await live.votes() == 2


async def test_a_start_cut_short_whose_prompt_is_1001_is_pushed_again(live: LiveMpesa) -> None:
    """The start's process died after Daraja took the prompt and the start kept its CheckoutRequestID, before the
    start was recorded; the prompt's result is 1001. While the start's lease lasts it may still be recording the
    prompt, and is left alone; once the lease is over, the order is started again."""
    live.control.drop_callbacks = True
    order_id = await live.vote(HELD_ONCE, quantity=2)
    await asyncio.sleep(0.2)  # its prompt is decided: 1001
    for lease, outcomes in ((timedelta(minutes=1), {"start_under_way": 1}), (timedelta(seconds=-1), {"restarted": 1})):
        async with live.sessions.begin() as session:  # what the crash leaves: the kept prompt, no record of a start
            await session.execute(update(VoteOrder).where(VoteOrder.id == order_id).values(
                payment_started_at=None, provider_data={}, start_lease_until=datetime.now(UTC) + lease))
        live.control.drop_callbacks = False
        report = await reconcile(live.sessions, live.client.app[PROVIDERS],
                                 now=datetime.now(UTC) + timedelta(seconds=80))
        assert report.outcomes == outcomes
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID and order.amount == 2000
    dead, paid = checkouts(order.provider_data)
    assert len(dead) == 1 and paid is not None and paid not in dead
    assert await live.votes() == 2
