"""`POST /ussd/africastalking/events` fed real Africa's Talking-shaped notifications, against real PostgreSQL and
Redis: an unfinished session cancels its unstarted order, never a started or paid one; every notice is kept, and
past the limit those about no order are refused. And the callback token both USSD routes demand: production without
one serves no USSD."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select, update

from assembly.settings import Environment, Settings
from assembly.web.app import create_app
from channels.ussd.models import UssdSessionEvent
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, VoteOrder
from gateway.kit.throttle import UNTIED_LIMIT
from tests.channels.ussd.sessions import (
    DEMO_CODE,
    MTN_NUMBER,
    Phones,
    dial,
    form,
    orders,
    phone_app,
    phone_client,  # noqa: F401 (the fixture `client`)
    prefixes,
    prompted,
)
from tests.factories import count_orders, make_contest
from tests.servers import inside_one_window


def event(status: str, session_id: str = "ATUid_1", **extra: str) -> dict[str, str]:
    return {"sessionId": session_id, "serviceCode": DEMO_CODE, "networkCode": "62401", "phoneNumber": MTN_NUMBER,
            "status": status, "cost": "XAF 0", "durationInMillis": "41000", "hopsCount": "6",
            "input": "1*07*5*1*1", "lastAppResponse": "END Merci!", "errorMessage": "", "date": "2026-11-21 12:00:00",
            **extra}


async def stored_events(sessions: Sessions) -> list[UssdSessionEvent]:
    async with sessions() as session:
        return list(await session.scalars(select(UssdSessionEvent).order_by(UssdSessionEvent.id)))


@pytest.mark.parametrize("status", ["Incomplete", "Failed"])
async def test_an_unfinished_session_cancels_its_unstarted_order(settings: Settings, phones: tuple[Phones, str],
                                                                 demo: Contest, sessions: Sessions,
                                                                 status: str) -> None:
    app = phone_app(settings, phones, ussd_push_delay_seconds=5.0)  # AT's notice comes before the push is tried
    async with TestClient(TestServer(app)) as client:
        await dial(client, "1*07*5*1*1")
        response = await client.post("/ussd/africastalking/events", data=event(status, errorMessage="timeout"))
        assert response.status == 200
        [order] = await orders(sessions)
        assert order.status is OrderStatus.FAILED and status in (order.status_reason or "")
        [stored] = await stored_events(sessions)
        assert (stored.session_id, stored.status, stored.msisdn) == ("ATUid_1", status, MTN_NUMBER)
        assert stored.payload["errorMessage"] == "timeout" and stored.payload["hopsCount"] == "6"


async def test_notifications_never_cancel_a_started_or_successful_payment(client: TestClient, demo: Contest,
                                                                          sessions: Sessions) -> None:
    await dial(client, "1*07*5*1*1")
    assert (await client.post("/ussd/africastalking/events", data=event("Success"))).status == 200
    [order] = await orders(sessions)
    assert order.status is OrderStatus.PENDING
    async with sessions.begin() as session:
        await session.execute(update(VoteOrder).values(payment_started_at=datetime.now(UTC)))
    for status in ("Failed", "Incomplete", "Failed"):  # duplicates are kept too
        assert (await client.post("/ussd/africastalking/events", data=event(status))).status == 200
    [order] = await orders(sessions)
    assert order.status is OrderStatus.PENDING
    assert [e.status for e in await stored_events(sessions)] == ["Success", "Failed", "Incomplete", "Failed"]


async def test_notifications_without_an_order_are_stored(client: TestClient, sessions: Sessions) -> None:
    await client.post("/ussd/africastalking/events", data=event("Incomplete", session_id="ATUid_9",
                                                                 phoneNumber="not-a-number"))
    [stored] = await stored_events(sessions)
    assert stored.session_id == "ATUid_9" and stored.msisdn is None and stored.payload["phoneNumber"] == "not-a-number"


async def test_a_malformed_notification_is_refused(client: TestClient, sessions: Sessions) -> None:
    data = {key: value for key, value in event("Failed").items() if key != "sessionId"}
    response = await client.post("/ussd/africastalking/events", data=data)
    assert response.status == 400
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(UssdSessionEvent)) == 0


async def test_past_the_limit_a_notification_about_no_order_is_refused_but_one_about_an_order_is_kept(
        settings: Settings, phones: tuple[Phones, str], demo: Contest, sessions: Sessions) -> None:
    """Without a callback token (development) anyone can post notifications: those naming no session
    that placed an order count against the address's limit; a session's own is always taken."""
    app = phone_app(settings, phones, ussd_push_delay_seconds=60.0)  # AT's notice comes before the push is tried
    async with TestClient(TestServer(app)) as client:
        await inside_one_window()
        await dial(client, "1*07*5*1*1")
        for n in range(UNTIED_LIMIT):
            response = await client.post("/ussd/africastalking/events", data=event("Failed", f"probe-{n}"))
            assert response.status == 200
        refused = await client.post("/ussd/africastalking/events", data=event("Failed", "probe-x", junk="j" * 30_000))
        assert refused.status == 429 and (await refused.json())["error"]["code"] == "rate_limited"
        assert len(await stored_events(sessions)) == UNTIED_LIMIT  # nothing kept of the refused one
        assert (await client.post("/ussd/africastalking/events", data=event("Failed"))).status == 200  # ATUid_1's
        [order] = await orders(sessions)
        assert order.status is OrderStatus.FAILED
        assert (await stored_events(sessions))[-1].session_id == "ATUid_1"


@pytest.fixture
async def guarded(clean: None, settings: Settings, phones: tuple[Phones, str]) -> AsyncIterator[TestClient]:
    """The app with a callback token, as production runs it."""
    app = phone_app(settings, phones, ussd_callback_token=SecretStr("t" * 24))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_with_a_callback_token_only_calls_carrying_it_are_served(
        guarded: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    """AT does not sign USSD callbacks: without the token anyone could push payment prompts to any number."""
    for query in ("", "?token=wrong", "?token=" + "t" * 23):
        for text in prefixes("1*07*5*1*1"):
            response = await guarded.post("/ussd/africastalking" + query, data=form(text))
            assert response.status == 403 and (await response.json())["error"]["code"] == "unknown_caller"
        events = await guarded.post("/ussd/africastalking/events" + query, data=event("Failed"))
        assert events.status == 403
    assert await count_orders(sessions) == 0 and await stored_events(sessions) == []
    for text in prefixes("1*07*5*1*1"):
        response = await guarded.post("/ussd/africastalking?token=" + "t" * 24, data=form(text))
        assert response.status == 200 and (await response.text()).startswith(("CON ", "END "))
    assert await prompted(guarded, phones) == ["237670000001"]


async def test_production_without_a_token_serves_no_ussd_even_for_a_contest_added_after_start(
        clean: None, settings: Settings, sessions: Sessions) -> None:
    production = settings.model_copy(update={"gateway_env": Environment.PRODUCTION,
                                             "secret_key": SecretStr("x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt"),
                                             "public_base_url": "https://vote.example.org",
                                             "ussd_callback_token": None})
    async with TestClient(TestServer(create_app(production))) as client:  # no USSD contest yet: it starts
        await make_contest(sessions, slug="late", ussd_service_codes=["*384*777#"])
        response = await client.post("/ussd/africastalking", data=form("", code="*384*777#"))
        assert response.status == 403 and "USSD_CALLBACK_TOKEN" in (await response.json())["error"]["message"]
    assert await count_orders(sessions) == 0
