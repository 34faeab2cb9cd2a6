"""`POST /ussd/africastalking` fed real Africa's Talking-shaped forms, against real PostgreSQL and Redis: a blocked
number is told at once, or at its confirmation when blocked mid-session, and the per-number limits end with a
clear message; no order, no prompt."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from gateway.db.engine import Sessions
from gateway.db.models import BlockedMsisdn, Contest
from tests.channels.ussd.sessions import (
    MTN_NUMBER,
    Phones,
    dial,
    hop,
    phone_client,  # noqa: F401 (the fixture `client`)
    prompted,
)
from tests.factories import count_orders, make_contest


async def test_a_blocked_number_is_told_at_once(client: TestClient, demo: Contest, sessions: Sessions) -> None:
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn=MTN_NUMBER, reason="chargebacks"))
    blocked = "END Ce numéro ne peut pas voter. Contactez l'organisateur si c'est une erreur."
    assert await hop(client, "") == blocked
    assert await count_orders(sessions) == 0


async def test_a_number_blocked_during_its_session_cannot_confirm(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    await dial(client, "1*07*5*1")
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn=MTN_NUMBER))
    assert (await hop(client, "1*07*5*1*1")).startswith("END Ce numéro ne peut pas voter.")
    assert await count_orders(sessions) == 0 and await prompted(client, phones) == []


@pytest.mark.parametrize("limit", ["max_orders_per_minute", "max_orders_per_day"])
async def test_per_number_limits_end_with_a_clear_message(client: TestClient, sessions: Sessions,
                                                          phones: tuple[Phones, str], limit: str) -> None:
    await make_contest(sessions, ussd_service_codes=["*384*7#"], **{limit: 1})
    first = await dial(client, "1*01*1*1*1", code="*384*7#")
    assert first[-1].startswith("END Merci!")
    second = await dial(client, "1*02*3*1*1", code="*384*7#", session_id="ATUid_2")
    assert second[-1] == "END Limite de votes atteinte pour ce numéro. Réessayez plus tard."
    other = await dial(client, "1*02*3*1*1", code="*384*7#", session_id="ATUid_3", msisdn="+237670000002")
    assert other[-1].startswith("END Merci!")
    assert await count_orders(sessions) == 2
    assert await prompted(client, phones) == ["237670000001", "237670000002"]
