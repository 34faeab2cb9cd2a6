"""SQL-like and oversized input on every public route: a clear 4xx (or a polite USSD END), no 500,
and nothing written."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.models import Contest, VoteOrder
from tests.factories import make_contest

Sessions = async_sessionmaker[AsyncSession]
SQLISH = "1' OR '1'='1'; DROP TABLE vote_orders; --"
HUGE = b"x" * 200_000
GETS = [
    f"/c/{SQLISH}", f"/api/v1/contests/{SQLISH}", f"/api/v1/contests/{SQLISH}/leaderboard",
    f"/api/v1/orders/{SQLISH}", f"/orders/{SQLISH}", f"/api/v1/contests/gala/leaderboard/stream?last_event_id={SQLISH}",
]
POSTS = ["/api/v1/contests/gala/votes", "/c/gala/vote", "/ussd/africastalking", "/ussd/africastalking/events",
         "/payments/mtn/callback/00000000-0000-0000-0000-000000000000", "/payments/orange/notify/x",
         "/payments/stripe/webhook"]


async def counts(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        orders = await session.scalar(select(func.count()).select_from(VoteOrder))
        contests = await session.scalar(select(func.count()).select_from(Contest))
    return int(orders or 0), int(contests or 0)


@pytest.mark.parametrize("path", GETS)
async def test_sql_like_paths_are_a_clean_answer(client: TestClient, sessions: Sessions, path: str) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.get(path, timeout=5)
    assert response.status < 500
    if response.status == 200:  # the stream answers with the board, the SQL-like id ignored
        assert response.content_type == "text/event-stream"
        response.close()
    assert await counts(sessions) == (0, 1)


@pytest.mark.parametrize("path", POSTS)
async def test_oversized_bodies_are_refused(client: TestClient, sessions: Sessions, path: str) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post(path, data=HUGE, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 413
    assert await counts(sessions) == (0, 1)


async def test_sql_like_ussd_input_is_a_polite_screen(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", ussd_service_codes=["*384*999#"])
    form = {"sessionId": "s-1", "serviceCode": "*384*999#", "phoneNumber": "+237670000001", "networkCode": "62401",
            "text": f"1*{SQLISH}"}
    response = await client.post("/ussd/africastalking", data=form)
    assert response.status == 200
    assert (await response.text()).startswith(("CON ", "END "))
    assert await counts(sessions) == (0, 1)


async def test_sql_like_vote_fields_are_refused(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    for body in ({"candidate": SQLISH, "quantity": 1, "provider": "mtn", "msisdn": "+237670000001"},
                 {"candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": SQLISH},
                 {"candidate": "01", "quantity": 1, "provider": SQLISH, "msisdn": "+237670000001"}):
        response = await client.post("/api/v1/contests/gala/votes", json=body)
        assert response.status == 422 and (await response.json())["error"]["field"]
    assert await counts(sessions) == (0, 1)
