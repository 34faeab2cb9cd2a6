"""A vote by SMS from Kenya, end to end against the M-Pesa and Airtel sandboxes: the sender's network picks the
wallet, the job pushes its prompt to the sandbox, the sandbox's callback reaches the app and counts the votes once,
and the receipt goes out through Africa's Talking (faked at the wire)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoterPreference
from tests.channel_names import Channel
from tests.channels.sms.test_voting import handle, receive, ref
from tests.east_africa import AIRTEL_KENYA, SAFARICOM, EastAfrica, east_africa, kenyan_contest
from tests.fakes.africastalking import FakeAt


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[EastAfrica]:
    async with east_africa(settings, sessions, redis, at_username="sandbox",
                           at_api_key=SecretStr("at-key-0123456789")) as running:
        yield running


@pytest.mark.parametrize(("msisdn", "provider"), [(SAFARICOM, "mpesa"), (AIRTEL_KENYA, "airtel")])
async def test_a_kenyan_sms_vote_is_paid_by_its_networks_wallet_counted_once_with_a_receipt(
        live: EastAfrica, fake_at: FakeAt, msisdn: str, provider: str) -> None:
    contest = await kenyan_contest(live.sessions, sms_short_code="20123")
    async with live.sessions.begin() as session:
        session.add(VoterPreference(msisdn=msisdn, language="en"))
    async with live.job() as job:
        inbound_id = await receive(live.client, live.sessions, "VOTE 01 3", "ATXid_ke", sender=msisdn)
        assert await handle(job, inbound_id) == "vote"
        assert await handle(job, inbound_id) == "done"  # a job run twice pushes one prompt
    [order] = await live.orders()
    assert (order.channel, order.provider, order.voter_msisdn, order.quantity, order.amount, order.currency) == (
        Channel.SMS, provider, msisdn, 3, 3000, "KES")
    # Kenyan money as Kenyans write it; M-Pesa's prompt asks for the PIN and is gone once closed, Airtel's is approved
    asked = {"mpesa": "Enter your M-Pesa PIN on the prompt on your phone to pay Ksh 30.00 for 3 votes",
             "airtel": "Approve Ksh 30.00 on your phone for 3 votes"}[provider]
    assert fake_at.texts() == [f"{asked} for 01 Candidate 01. Ref {ref(order.id)}"]

    order = await live.settled(order.id)  # the sandbox approves and calls the app back
    assert order.status is OrderStatus.PAID and order.provider_txn_id
    assert await live.votes(contest) == 3
    await live.deliver_outbox()
    await live.deliver_outbox()  # the receipts job run again sends nothing more
    # M-Pesa gives its payers a receipt code (its MpesaReceiptNumber): the receipt quotes it; Airtel's gives none
    code = f" M-Pesa receipt {order.provider_txn_id}." if provider == "mpesa" else ""
    assert fake_at.texts()[1:] == [f"Thank you! 3 votes for 01 Candidate 01 counted.{code} Ref {ref(order.id)}"]
    assert fake_at.sent[-1]["to"] == msisdn
    assert await live.votes(contest) == 3


async def test_a_swahili_voter_gets_the_m_pesa_prompt_and_receipt_in_swahili(live: EastAfrica,
                                                                               fake_at: FakeAt) -> None:
    contest = await kenyan_contest(live.sessions, sms_short_code="20123")
    async with live.sessions.begin() as session:
        session.add(VoterPreference(msisdn=SAFARICOM, language="sw"))
    async with live.job() as job:
        await handle(job, await receive(live.client, live.sessions, "VOTE 01 3", "ATXid_sw", sender=SAFARICOM))
    [order] = await live.orders()
    order = await live.settled(order.id)
    assert order.status is OrderStatus.PAID
    await live.deliver_outbox()
    prompt, receipt = fake_at.texts()
    assert prompt == (f"Weka PIN yako ya M-Pesa kwenye ombi kwenye simu yako ili kulipa Ksh 30.00 kwa kura 3 za "
                      f"01 Candidate 01. Kumb {ref(order.id)}")
    assert receipt == (f"Asante! Kura 3 za 01 Candidate 01 zimehesabiwa. Risiti ya M-Pesa {order.provider_txn_id}. "
                       f"Kumb {ref(order.id)}")
    assert await live.votes(contest) == 3
