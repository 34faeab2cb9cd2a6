"""A USSD caller who cannot pay the contest the way they chose is told what it takes (its wallets, its country's
numbers) on the last screen, with no order placed and no prompt pushed: a Kenyan number on the Cameroonian code, a
Kenyan Airtel number on an M-Pesa-only contest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import Contest, VoterPreference
from tests.channels.ussd.sessions import (
    Phones,
    dial,
    orders,
    phone_client,  # noqa: F401 (the fixture `client`)
    prompted,
)
from tests.east_africa import AIRTEL_KENYA, EastAfrica, east_africa, kenyan_contest

KENYAN_CODE = "*384*254#"


async def test_a_kenyan_caller_on_the_cameroonian_code_is_told_what_the_contest_takes(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    screens = await dial(client, "1*07*3*1*1", msisdn="+254712000101")
    assert screens[-1] == "END Ce concours se paie par MTN MoMo ou Orange Money, numéros +237."
    assert await orders(sessions) == []
    assert await prompted(client, phones) == []
    # A Cameroonian number on the same path votes.
    screens = await dial(client, "1*07*3*1*1", msisdn="237670000001", session_id="ATUid_cm")
    assert screens[-1].startswith("END Merci!")
    assert len(await orders(sessions)) == 1


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[EastAfrica]:
    async with east_africa(settings, sessions, redis, ussd_push_delay_seconds=0.01) as running:
        yield running


async def test_an_airtel_caller_on_an_m_pesa_only_contest_is_told_what_it_takes(live: EastAfrica) -> None:
    await kenyan_contest(live.sessions, ussd_service_codes=[KENYAN_CODE], providers=["mpesa"])
    async with live.sessions.begin() as session:
        session.add(VoterPreference(msisdn=AIRTEL_KENYA, language="en"))
    screens = await dial(live.client, "1*01*3*1*1", msisdn=AIRTEL_KENYA.lstrip("+"), code=KENYAN_CODE)
    assert screens[-1] == "END This contest is paid by M-Pesa, numbers +254."
    assert await live.orders() == []
