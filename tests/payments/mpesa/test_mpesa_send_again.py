"""M-Pesa as Kenyan voters meet it on the order page, our app and the Daraja sandbox over localhost: the waiting text
says to enter the M-Pesa PIN on the prompt (an MTN order's still points to the wallet's menu), "Didn't get it? Send
again" pushes a new prompt only once Daraja says the last one is over unpaid (never beside an open one, never a
second charge, at most once per 30 s), and a paid order shows its M-Pesa receipt code."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.core.money_in.collections import load_collection
from gateway.core.orders import counting, tables
from gateway.core.providers import PaymentState
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from gateway.kit.keys import PROVIDERS
from tests.factories import make_contest, place
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa

CANCELS = "+254712000451"  # the sandbox: the payer cancels every prompt (1032)
STAYS_OPEN = "+254712000453"  # the prompt stays open on the phone
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        yield running


async def page(live: LiveMpesa, order_id: uuid.UUID, lang: str = "en", **query: str) -> str:
    response = await live.client.get(f"/orders/{order_id}", params={"lang": lang, **query})
    assert response.status == 200
    return await response.text()


async def send_again(live: LiveMpesa, order_id: uuid.UUID) -> str:
    """Press the button as a browser does: the page's form, its CSRF token, then the page it goes back to."""
    token = TOKEN.search(await page(live, order_id))
    assert token is not None, "the page offers no 'send again' button"
    response = await live.client.post(f"/orders/{order_id}/prompt-again", data={"csrf_token": token.group(1)})
    assert response.status == 200 and str(response.url.path) == f"/orders/{order_id}"
    return await response.text()


async def prompt_ended(live: LiveMpesa, order_id: uuid.UUID) -> None:
    """Wait until Daraja's query says the order's prompt is decided (its callback lost: the order still waits)."""
    async with live.sessions() as session:
        loaded = await load_collection(session, order_id)
    assert loaded is not None
    provider = live.client.app[PROVIDERS].for_order("mpesa", "web")
    for _ in range(200):
        if (await provider.fetch_status(loaded[1])).state is not PaymentState.PENDING:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the prompt never ended")


async def aged(live: LiveMpesa, order_id: uuid.UUID) -> VoteOrder:
    """The order as if its prompt went out a minute ago (the page asks Daraja only after 20 s)."""
    async with live.sessions.begin() as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == order_id).values(
            payment_started_at=VoteOrder.payment_started_at - timedelta(minutes=1)))
    return await tables.get_order(live.sessions, order_id)


async def test_the_waiting_page_says_to_enter_the_m_pesa_pin_in_each_language(live: LiveMpesa) -> None:
    live.control.success_delay = 60.0
    order_id = await live.vote(STAYS_OPEN, quantity=2)
    english = await page(live, order_id, "en")
    assert "Enter your M-Pesa PIN on the prompt that appeared on +254 •••••• 453 to pay" in english
    assert "menu" not in english and "Didn&#39;t get it? Send again" in english
    assert "Saisissez votre code PIN M-Pesa dans la demande apparue sur" in await page(live, order_id, "fr")
    assert "Weka PIN yako ya M-Pesa kwenye ombi lililotokea kwenye" in await page(live, order_id, "sw")
    response = await live.client.post(f"/api/v1/contests/{live.contest.slug}/votes", json={
        "candidate": "02", "quantity": 1, "provider": "mpesa", "msisdn": "+254712000101"})
    step = (await response.json())["next"]
    assert step["approval"] == "pin_prompt" and step["message"].startswith("Enter your M-Pesa PIN on the prompt")


async def test_a_menu_wallet_order_still_points_to_the_menu_and_offers_no_send_again(live: LiveMpesa) -> None:
    cameroon = await make_contest(live.sessions, slug="cm", providers=["mtn", "stripe"])
    mtn = await place(live.sessions, cameroon, provider="mtn", msisdn="+237670000001")
    html = await page(live, mtn.id)
    assert "open your mobile money menu" in html and "PIN on the prompt" not in html
    assert "prompt-again" not in html


async def test_send_again_pushes_a_new_prompt_of_the_same_order_once_the_last_is_over(live: LiveMpesa) -> None:
    live.control.drop_callbacks = True  # the cancellation's callback is lost: the order still waits
    order_id = await live.vote(CANCELS, quantity=3)
    await prompt_ended(live, order_id)
    before = await aged(live, order_id)
    first = before.provider_data["checkout_request_id"]
    html = await send_again(live, order_id)
    assert "A new prompt is on its way to your phone." in html
    await live.client.app[STARTS].wait_idle()
    after = await tables.get_order(live.sessions, order_id)
    assert after.status is OrderStatus.PENDING and after.payment_reference == before.payment_reference
    assert [kept["checkout_request_id"] for kept in after.provider_data["earlier_starts"]] == [first]
    assert after.provider_data["checkout_request_id"] not in (None, first)  # a new prompt went out
    assert "A new prompt was sent to your phone." in await page(live, order_id)
    # At most once per 30 s: the next press asks Daraja nothing and pushes nothing.
    html = await send_again(live, order_id)
    assert "Please wait a moment before asking for another prompt." in html
    assert (await tables.get_order(live.sessions, order_id)).provider_data == after.provider_data


async def test_send_again_pushes_nothing_while_the_prompt_is_open(live: LiveMpesa) -> None:
    live.control.success_delay = 60.0
    order_id = await live.vote(STAYS_OPEN, quantity=1)
    before = await aged(live, order_id)
    html = await send_again(live, order_id)
    assert "The prompt is still open on your phone: enter your PIN there." in html
    after = await tables.get_order(live.sessions, order_id)
    assert after.provider_data == before.provider_data and "earlier_starts" not in after.provider_data


async def test_send_again_on_a_paid_prompt_counts_it_once_and_shows_its_receipt(live: LiveMpesa) -> None:
    live.control.drop_callbacks = True  # paid at Daraja, its callback lost
    order_id = await live.vote("+254712000102", quantity=4)
    await prompt_ended(live, order_id)
    await aged(live, order_id)
    html = await send_again(live, order_id)
    order = await tables.get_order(live.sessions, order_id)
    assert order.status is OrderStatus.PAID and await live.votes() == 4
    assert "earlier_starts" not in order.provider_data  # no second prompt, no second charge
    assert "Thank you! Your vote counts." in html


async def test_a_paid_m_pesa_order_shows_its_receipt_code_and_a_card_payment_id_is_not_one(live: LiveMpesa) -> None:
    order_id = await live.vote(quantity=2)
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID and order.provider_txn_id
    html = await page(live, order_id, "sw")
    assert '<dt id="receipt-code-label">Namba ya risiti</dt>' in html and order.provider_txn_id in html
    status = await (await live.client.get(f"/orders/{order_id}/status")).json()
    assert status["receipt_code"] == order.provider_txn_id
    api = await (await live.client.get(f"/api/v1/orders/{order_id}")).json()
    assert api["receipt_code"] == order.provider_txn_id
    cameroon = await make_contest(live.sessions, slug="cm", providers=["mtn", "stripe"])
    card = await place(live.sessions, cameroon, provider="stripe", msisdn=None)
    await counting.confirm_payment(live.sessions, card.id, "paid", card.amount, card.currency, "pi_3Secret",
                                   provider="stripe")
    assert "pi_3Secret" not in await page(live, card.id)
