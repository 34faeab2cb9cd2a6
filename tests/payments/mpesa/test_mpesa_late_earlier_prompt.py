"""A prompt of an order's earlier start paid late (Daraja debits some 1037 prompts after their timeout; or the payer
pays an old prompt after asking for a new one): its success on the order's URL is the order's payment, never dropped.
The order still waiting counts it once, verified later by that prompt's own query; an order that failed meanwhile is
flagged for a person; a second prompt paid too is a double payment, kept for a person to give back, never counted.
Our app and the Daraja sandbox over localhost."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from assembly.settings import Settings
from gateway.core.money_in.verification.by_status import verify_due
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, VoteOrder
from gateway.kit.keys import PROVIDERS
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa
from tests.payments.mpesa.test_mpesa_prompt_again import paid_callback
from tests.payments.mpesa.test_mpesa_send_again_final import prompt_answered

PAYS = "+254712000101"  # the sandbox: its prompt is paid
CANCELS = "+254712000451"  # its prompt is cancelled (1032)


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        running.control.drop_callbacks = True  # callbacks are posted by the tests
        yield running


async def sent_again_after_a_paid_prompt(live: LiveMpesa) -> tuple[uuid.UUID, str, str]:
    """An order of 2 votes whose first prompt was paid at Daraja (its callback not come yet) and whose new prompt,
    sent since, was cancelled: the order, its earlier prompt and its live one."""
    order_id = await live.vote(PAYS, quantity=2)
    assert await prompt_answered(live, order_id) == "0"
    other = await live.vote(CANCELS, quantity=2)
    assert await prompt_answered(live, other) == "1032"
    first = (await tables.get_order(live.sessions, order_id)).provider_data
    new = (await tables.get_order(live.sessions, other)).provider_data["checkout_request_id"]
    async with live.sessions.begin() as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == order_id).values(
            provider_data={"checkout_request_id": new, "amount_asked": 20, "earlier_starts": [first]}))
        await session.execute(update(VoteOrder).where(VoteOrder.id == other).values(status=OrderStatus.FAILED))
    return order_id, first["checkout_request_id"], new


async def test_an_earlier_prompt_paid_late_counts_once_and_a_second_payment_is_kept_for_a_refund(
        live: LiveMpesa) -> None:
    order_id, earlier, new = await sent_again_after_a_paid_prompt(live)
    response = await live.client.post(live.callback_path(order_id), json=paid_callback(earlier, 20.0, "LATEDEBIT1"))
    assert response.status == 200
    order = await tables.get_order(live.sessions, order_id)
    assert order.status is OrderStatus.PAID and order.provider_txn_id == "LATEDEBIT1" and await live.votes() == 2
    # Verified by the earlier prompt's own query (the live one was cancelled): the votes stand.
    await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=1))
    assert (await tables.get_order(live.sessions, order_id)).status is OrderStatus.PAID and await live.votes() == 2
    # The new prompt paid too: never counted twice, kept for a person to give back.
    response = await live.client.post(live.callback_path(order_id), json=paid_callback(new, 20.0, "SECONDPAY1"))
    assert response.status == 200
    order = await tables.get_order(live.sessions, order_id)
    assert order.status is OrderStatus.PAID and order.provider_txn_id == "LATEDEBIT1" and await live.votes() == 2
    async with live.sessions() as session:
        duplicate = await session.scalar(select(AuditEntry).where(AuditEntry.action == "payment.duplicate",
                                                                  AuditEntry.target == str(order_id)))
    assert duplicate is not None and duplicate.details["second_txn"] == "SECONDPAY1"


async def test_an_earlier_prompt_paid_after_the_order_failed_flags_it_for_a_person(live: LiveMpesa) -> None:
    order_id, earlier, _ = await sent_again_after_a_paid_prompt(live)
    async with live.sessions.begin() as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == order_id).values(status=OrderStatus.FAILED))
    response = await live.client.post(live.callback_path(order_id), json=paid_callback(earlier, 20.0, "LATEDEBIT2"))
    assert response.status == 200
    order = await tables.get_order(live.sessions, order_id)
    assert order.status is OrderStatus.FLAGGED and order.provider_txn_id == "LATEDEBIT2"
    assert await live.votes() == 0


async def test_an_earlier_prompt_paid_for_another_sum_counts_nothing(live: LiveMpesa) -> None:
    order_id, earlier, _ = await sent_again_after_a_paid_prompt(live)
    response = await live.client.post(live.callback_path(order_id), json=paid_callback(earlier, 2.0, "LATEDEBIT3"))
    assert response.status == 200
    assert (await tables.get_order(live.sessions, order_id)).provider_txn_id is None
    assert await live.votes() == 0
