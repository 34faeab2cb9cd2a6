"""`POST /ussd/africastalking` against real PostgreSQL and Redis, refusing malformed forms (a field missing or
invalid, a JSON body, a session id reused by another number) and creating nothing; and through outages: without
its database the session ends politely, without Redis the vote is still placed once."""

from __future__ import annotations

import socket

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.channel_names import Channel
from tests.channels.ussd.menus import HOME_FR
from tests.channels.ussd.sessions import (
    ORANGE_NUMBER,
    Phones,
    dial,
    form,
    orders,
    phone_app,
    phone_client,  # noqa: F401 (the fixture `client`)
    prompted,
)
from tests.factories import count_orders


@pytest.mark.parametrize("missing", ["sessionId", "serviceCode", "phoneNumber", "text"])
async def test_a_form_missing_a_field_is_refused_and_creates_nothing(
        client: TestClient, demo: Contest, sessions: Sessions, redis: Redis, missing: str) -> None:
    await redis.flushdb()
    data = {key: value for key, value in form("1*07*5*1*1").items() if key != missing}
    response = await client.post("/ussd/africastalking", data=data)
    assert response.status == 400
    assert (await response.json())["error"] == {"code": "invalid_form", "message": f"{missing} is required.",
                                                "field": missing}
    assert await count_orders(sessions) == 0 and await redis.keys("*") == []


@pytest.mark.parametrize("data", [
    form("", msisdn="hello"), form("", msisdn="+1"), form("", session_id="has space"),
    form("1" * 1001), form("", code="*" * 40),
])
async def test_invalid_fields_are_refused(client: TestClient, demo: Contest, sessions: Sessions, redis: Redis,
                                          data: dict[str, str]) -> None:
    await redis.flushdb()
    response = await client.post("/ussd/africastalking", data=data)
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_form"
    assert await count_orders(sessions) == 0 and await redis.keys("*") == []


async def test_a_json_body_is_not_an_at_form(client: TestClient, demo: Contest, sessions: Sessions) -> None:
    response = await client.post("/ussd/africastalking", json=form("1*07*5*1*1"))
    assert response.status == 400
    assert await count_orders(sessions) == 0


async def test_a_database_outage_ends_the_session_politely(settings: Settings, redis: Redis) -> None:
    """An HTTP error would cut the caller off without a word: every failure after validation is an END."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"postgresql://nobody@127.0.0.1:{sock.getsockname()[1]}/nothing"
    async with TestClient(TestServer(create_app(settings.model_copy(update={"database_url": dead})))) as down:
        response = await down.post("/ussd/africastalking", data=form(""))
        assert response.status == 200
        assert await response.text() == "END Service momentanément indisponible. Réessayez dans un instant."


async def test_without_redis_the_menu_answers_from_the_path_and_the_vote_is_placed_once(
        settings: Settings, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    """Redis away (restarting): no session record, no claim, yet the caller can vote; Africa's
    Talking resending the last hop gets the same order (its client_key is the session id)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    app = phone_app(settings, phones, redis_url=dead)
    async with TestClient(TestServer(app)) as down:
        assert await (await down.post("/ussd/africastalking", data=form(""))).text() == HOME_FR
        quantity = await (await down.post("/ussd/africastalking", data=form("1*07"))).text()
        assert quantity.startswith("CON 07 Grace Ndongo")
        finals = [await (await down.post("/ussd/africastalking", data=form("1*07*5*1*1"))).text() for _ in range(2)]
        assert finals[0].startswith("END Merci!") and finals[1] == finals[0]
        assert await prompted(down, phones) == ["237670000001"]
    [order] = await orders(sessions)
    assert order.quantity == 5 and order.channel == Channel.USSD


async def test_a_session_id_cannot_be_reused_by_another_number(client: TestClient, demo: Contest,
                                                               sessions: Sessions) -> None:
    await dial(client, "1*07*5*1")
    response = await client.post("/ussd/africastalking", data=form("1*07*5*1*1", msisdn=ORANGE_NUMBER))
    assert response.status == 400 and (await response.json())["error"]["field"] == "sessionId"
    assert await count_orders(sessions) == 0
