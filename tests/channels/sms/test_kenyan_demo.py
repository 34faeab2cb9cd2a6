"""The Kenyan demo is voted for the way Kenyan TV votes run, not on the web only: a USSD code of its own, an SMS
keyword on a short code of its own (`KURA 03 3` to 20254), paid by the M-Pesa prompt, beside the paybill."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from assembly.machine.demo import seed_demos
from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus
from tests.channels.sms.test_routes import inbound_form
from tests.channels.sms.test_voting import handle
from tests.east_africa import SAFARICOM, EastAfrica, east_africa
from tests.fakes.africastalking import FakeAt


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[EastAfrica]:
    async with east_africa(settings, sessions, redis, at_username="sandbox",
                           at_api_key=SecretStr("at-key-0123456789")) as running:
        yield running


async def test_a_kenyan_texts_kura_to_the_kenyan_demo_s_short_code_and_pays_by_m_pesa(live: EastAfrica,
                                                                                      fake_at: FakeAt) -> None:
    await seed_demos(live.sessions)
    await seed_demos(live.sessions)  # every start seeds again: nothing doubles, nothing is undone
    texted = await live.client.post("/sms/africastalking/inbound", data={
        **inbound_form("KURA 03 3", "ATXid_kura", sender=SAFARICOM), "to": "20254", "networkCode": "63902"})
    assert texted.status == 200
    async with live.job() as job:
        assert await handle(job, 1) == "vote"
    [order] = await live.orders()
    assert (order.provider, order.voter_msisdn, order.quantity, order.amount, order.currency) == (
        "mpesa", SAFARICOM, 3, 3000, "KES")
    assert (await live.settled(order.id)).status is OrderStatus.PAID
    await live.deliver_outbox()
    # A number never heard from texted KURA (Swahili): answered in Swahili, and its receipt too, though the contest
    # speaks English.
    prompt, receipt = fake_at.texts()
    # M-Pesa's prompt asks for the PIN and is gone once closed: the voter is told to enter it there, in Kenyan money
    assert prompt.startswith("Weka PIN yako ya M-Pesa kwenye ombi kwenye simu yako ili kulipa Ksh 30.00 kwa kura 3 za "
                             "03 Chebet Kiprono.")
    assert receipt.startswith("Asante! Kura 3 za 03 Chebet Kiprono zimehesabiwa")

    dialled = await live.client.post("/ussd/africastalking", data={
        "sessionId": "ATUid_kenya", "serviceCode": "*384*254#", "phoneNumber": SAFARICOM, "networkCode": "63902",
        "text": ""})
    assert (await dialled.text()).startswith("CON Demo Star Kenya 2026")
