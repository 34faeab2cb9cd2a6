"""MTN's callback about a transfer or refund of ours, on the URL we gave it: with the reference's secret it brings
that one's status read forward, and nothing it says is taken; a wrong secret, or a reference we never sent, changes
nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.money_out import payouts
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import Payout, PayoutState
from payments.mtn.callback_secret import callback_key, order_secret
from tests.factories import make_contest, place

OWNER = Actor(None, "ada@example.org", "owner")


async def sent_payout(sessions: Sessions) -> Payout:
    """A payout MTN has taken: its next status read is an hour away."""
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=5)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "T1", provider="mtn")
    await payouts.set_account(sessions, OWNER, contest.id, payouts.AccountDraft(
        "mtn", "Ada", msisdn="+237670000123", proven=True))
    payout = await payouts.request_payout(sessions, OWNER, contest.id, "XAF", 500)
    async with sessions.begin() as session:
        await session.execute(update(Payout).where(Payout.id == payout.id).values(
            state=PayoutState.SENT, due_at=datetime.now(UTC) + timedelta(hours=1)))
    return payout


async def due_at(sessions: Sessions, payout_id: uuid.UUID) -> datetime:
    async with sessions() as session:
        payout = await session.get(Payout, payout_id)
    assert payout is not None
    return payout.due_at


async def test_a_keyed_callback_brings_the_status_read_forward_and_nothing_else(
        client: TestClient, sessions: Sessions, settings: Settings) -> None:
    payout = await sent_payout(sessions)
    key = callback_key(settings.secret_key.get_secret_value())
    said = {"status": "SUCCESSFUL", "amount": "500", "currency": "XAF", "financialTransactionId": "9"}
    forged = await client.put(f"/payments/mtn/disbursement/{payout.id}?key=not-ours", json=said)
    assert forged.status == 400 and await due_at(sessions, payout.id) > datetime.now(UTC) + timedelta(minutes=50)
    stranger = uuid.uuid4()
    unknown = await client.put(f"/payments/mtn/disbursement/{stranger}?key={order_secret(key, stranger)}", json=said)
    assert unknown.status == 404
    answered = await client.put(f"/payments/mtn/disbursement/{payout.id}?key={order_secret(key, payout.id)}",
                                json=said)
    assert answered.status == 200 and await due_at(sessions, payout.id) <= datetime.now(UTC)
    async with sessions() as session:
        read = await session.get(Payout, payout.id)
    assert read is not None and read.state is PayoutState.SENT  # the callback's word is not taken
