"""A USSD session from Kenya, end to end against the M-Pesa and Airtel sandbox: the pay screen marks the caller's
network, the final hit places one pending order and its prompt goes to the sandbox after the reply, and the
sandbox's callback counts the votes once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoterPreference
from tests.channel_names import Channel
from tests.channels.ussd.sessions import dial, hop
from tests.east_africa import AIRTEL_KENYA, SAFARICOM, EastAfrica, east_africa, kenyan_contest

CODE = "*384*254#"


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[EastAfrica]:
    async with east_africa(settings, sessions, redis, ussd_push_delay_seconds=0.01) as running:
        yield running


async def dial_a_vote(live: EastAfrica, msisdn: str, language: str, path: str) -> list[str]:
    """The caller (speaking `language`) dials `path`; its final hit, replayed as AT may, answers the same."""
    async with live.sessions.begin() as session:
        session.add(VoterPreference(msisdn=msisdn, language=language))
    screens = await dial(live.client, path, msisdn=msisdn.lstrip("+"), code=CODE)
    assert await hop(live.client, path, msisdn=msisdn.lstrip("+"), code=CODE) == screens[-1]
    return screens


# M-Pesa's prompt asks for the PIN and is gone once closed (nothing waits in a menu): the last screen says to enter
# the PIN on it, with the amount in Kenyan money.
M_PESA_SCREENS = {
    "sw": ("CON Kura 3 = Ksh 30.00\nLipa kwa:\n1 Airtel Money\n2 M-Pesa (mtandao wako)\n0 Rudi 00 Mwanzo",
           "END Asante! Weka PIN yako ya M-Pesa kwenye ombi kwenye simu yako ili kulipa Ksh 30.00 na kura 3 "
           "zihesabiwe. Kumb {ref}"),
    "en": ("CON 3 votes = Ksh 30.00\nPay with:\n1 Airtel Money\n2 M-Pesa (your network)\n0 Back 00 Home",
           "END Thank you! Enter your M-Pesa PIN on the prompt on your phone to pay Ksh 30.00 and count your 3 votes. "
           "Ref {ref}"),
}


@pytest.mark.parametrize("language", ["sw", "en"])
async def test_a_safaricom_caller_pays_by_m_pesa_marked_as_its_network_and_the_callback_counts_the_votes(
        live: EastAfrica, language: str) -> None:
    contest = await kenyan_contest(live.sessions, ussd_service_codes=[CODE])
    screens = await dial_a_vote(live, SAFARICOM, language, "1*01*3*2*1")
    pay_with, last = M_PESA_SCREENS[language]
    assert screens[3] == pay_with
    assert "M-Pesa" in screens[4]
    [order] = await live.orders()
    assert screens[5] == last.format(ref=order.id.hex[:8].upper())
    assert (order.channel, order.provider, order.voter_msisdn, order.amount, order.currency) == (
        Channel.USSD, "mpesa", SAFARICOM, 3000, "KES")
    order = await live.settled(order.id)  # pushed after the reply; the sandbox approves and calls back
    assert order.status is OrderStatus.PAID and order.payment_started_at is not None
    assert order.provider_txn_id and len(order.provider_txn_id) == 10  # the M-Pesa receipt number
    assert await live.votes(contest) == 3


async def test_an_airtel_kenya_caller_pays_by_airtel_money_marked_as_its_network(live: EastAfrica) -> None:
    contest = await kenyan_contest(live.sessions, ussd_service_codes=[CODE])
    screens = await dial_a_vote(live, AIRTEL_KENYA, "en", "1*01*3*1*1")
    assert screens[3] == "CON 3 votes = Ksh 30.00\nPay with:\n1 Airtel Money (your network)\n2 M-Pesa\n0 Back 00 Home"
    [order] = await live.orders()
    # Airtel's prompt is approved (or found in its menu): the menu's wording
    assert screens[5] == ("END Thank you! Approve the payment of Ksh 30.00 on your phone (Airtel Money) to count "
                          f"your 3 votes. Ref {order.id.hex[:8].upper()}")
    assert (order.provider, order.voter_msisdn, order.amount) == ("airtel", AIRTEL_KENYA, 3000)
    assert (await live.settled(order.id)).status is OrderStatus.PAID
    assert await live.votes(contest) == 3
