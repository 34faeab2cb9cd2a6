"""`POST /ussd/africastalking` fed real Africa's Talking-shaped forms, against real PostgreSQL and Redis: the
service code picks the contest. An unknown code, or a contest not open or closing mid-session, ends with why; a
draft is unknown; a code shared by several contests lists the open ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import update

from channels.ussd.texts import UNKNOWN_SERVICE
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus
from tests.channels.ussd.sessions import (
    dial,
    hop,
    orders,
    phone_client,  # noqa: F401 (the fixture `client`)
)
from tests.factories import count_orders, make_contest


async def test_an_unknown_service_code_ends_with_a_message(client: TestClient, demo: Contest,
                                                           sessions: Sessions) -> None:
    assert await hop(client, "", code="*999*1#") == f"END {UNKNOWN_SERVICE}"
    assert await count_orders(sessions) == 0


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"status": ContestStatus.CLOSED}, "END Les votes pour Test Contest sont clos. Merci!"),
    ({"status": ContestStatus.PAUSED}, "END Les votes pour Test Contest sont suspendus. Réessayez plus tard."),
    ({"opens_at": datetime.now(UTC) + timedelta(hours=1)},
     "END Les votes pour Test Contest ne sont pas encore ouverts."),
])
async def test_a_contest_not_open_ends_at_once(client: TestClient, sessions: Sessions,
                                               overrides: dict[str, object], expected: str) -> None:
    await make_contest(sessions, ussd_service_codes=["*384*7#"], **overrides)
    assert await hop(client, "", code="*384*7#") == expected
    assert await hop(client, "1*01*1*1*1", code="*384*7#") == expected
    assert await count_orders(sessions) == 0


async def test_a_draft_contest_is_unknown(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, ussd_service_codes=["*384*7#"], status=ContestStatus.DRAFT)
    assert await hop(client, "", code="*384*7#") == f"END {UNKNOWN_SERVICE}"


async def test_a_shared_code_lists_its_open_contests(client: TestClient, sessions: Sessions) -> None:
    now = datetime.now(UTC)
    await make_contest(sessions, name="Miss Cameroun", ussd_service_codes=["*384*5#"],
                       closes_at=now + timedelta(days=1))
    star = await make_contest(sessions, name="Star Académie ✨", ussd_service_codes=["*384*6#", "*384*5#"],
                              closes_at=now + timedelta(days=2), default_language="en")
    await make_contest(sessions, name="Old Show", ussd_service_codes=["*384*5#"], status=ContestStatus.CLOSED)
    assert await hop(client, "", code="*384*5#") == "CON Choisissez un concours:\n1 Miss Cameroun\n2 Star Academie"
    screens = await dial(client, "2*1*03*4*1*1", code="*384*5#")
    assert screens[1] == "CON Star Academie\n1 Vote\n2 Top 5\n3 My votes\n4 Language/Langue/Lugha\n0 Back"
    assert screens[-1].startswith("END Thank you! Approve the payment of FCFA 400")
    [order] = await orders(sessions)
    assert order.contest_id == star.id and order.quantity == 4


async def test_a_contest_closing_mid_session_refuses_the_vote(client: TestClient, sessions: Sessions,
                                                              redis: Redis) -> None:
    contest = await make_contest(sessions, ussd_service_codes=["*384*7#"])
    await dial(client, "1*01*1*1", code="*384*7#")
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status=ContestStatus.CLOSED))
    assert await hop(client, "1*01*1*1*1", code="*384*7#") == "END Les votes pour Test Contest sont clos. Merci!"
    assert await count_orders(sessions) == 0
