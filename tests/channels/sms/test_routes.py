"""`POST /sms/africastalking/inbound` and `/delivery`, fed Africa's Talking-shaped forms, against real
PostgreSQL and Redis: a message is kept once per AT id and queued for its job; bad forms create nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from assembly.settings import ConfigError, Environment, Settings, check_production
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from channels.sms.channel import production_problems as sms_problems
from channels.sms.models import SmsInbound, SmsMessage
from gateway.db.engine import Sessions
from gateway.jobs.queues import answers_queue
from gateway.kit.keys import QUEUE
from tests.factories import TEST_RESULTS_KEY

TOKEN = "sms-callback-token-0123456789abcdef"


def inbound_form(text: str = "VOTE 07 5", at_id: str = "ATXid_1", date: str = "2026-11-22T21:04:45Z",
                 sender: str = "+237670000001") -> dict[str, str]:
    return {"from": sender, "to": "20123", "text": text, "date": date, "id": at_id,
            "linkId": "SampleLinkId123", "networkCode": "62401"}


async def inbound_rows(sessions: Sessions) -> list[SmsInbound]:
    async with sessions() as session:
        return list(await session.scalars(select(SmsInbound).order_by(SmsInbound.id)))


@pytest.fixture
async def guarded(clean: None, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(settings.model_copy(update={"sms_callback_token": SecretStr(TOKEN)}))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
        await app[STARTS].close(grace=0)


@pytest.mark.parametrize("date", ["2026-11-22T21:04:45Z", "2026-11-22 21:04:45"])
async def test_a_message_is_kept_and_queued_once(client: TestClient, sessions: Sessions, date: str) -> None:
    first = await client.post("/sms/africastalking/inbound", data=inbound_form(date=date))
    assert first.status == 200 and await first.json() == {"ok": True, "duplicate": False}
    again = await client.post("/sms/africastalking/inbound", data=inbound_form(date=date))
    assert again.status == 200 and await again.json() == {"ok": True, "duplicate": True}
    rows = await inbound_rows(sessions)
    assert [(r.at_id, r.msisdn, r.short_code, r.text, r.link_id) for r in rows] == [
        ("ATXid_1", "+237670000001", "20123", "VOTE 07 5", "SampleLinkId123")]
    assert rows[0].sent_at is not None and rows[0].sent_at.isoformat() == "2026-11-22T21:04:45+00:00"
    queue = client.app[QUEUE]  # on the queue workers take first: a voter waits on its answer and prompt
    assert (answers_queue(queue).job_ids, queue.job_ids) == ([f"sms-inbound-{rows[0].id}"], [])


@pytest.mark.parametrize("form", [
    {k: v for k, v in inbound_form().items() if k != "id"},
    {k: v for k, v in inbound_form().items() if k != "from"},
    inbound_form(sender="not a number"),
    inbound_form(date="yesterday"),
    inbound_form(at_id="has spaces"),
    {},
])
async def test_a_malformed_form_is_refused_and_creates_nothing(client: TestClient, sessions: Sessions,
                                                               form: dict[str, str]) -> None:
    response = await client.post("/sms/africastalking/inbound", data=form)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_form"
    assert await inbound_rows(sessions) == []


async def test_with_a_token_set_only_calls_carrying_it_are_taken(guarded: TestClient, sessions: Sessions) -> None:
    for url in ("/sms/africastalking/inbound", "/sms/africastalking/inbound?token=wrong"):
        response = await guarded.post(url, data=inbound_form())
        assert response.status == 403
    assert await inbound_rows(sessions) == []
    response = await guarded.post(f"/sms/africastalking/inbound?token={TOKEN}", data=inbound_form())
    assert response.status == 200
    assert len(await inbound_rows(sessions)) == 1
    report = await guarded.post("/sms/africastalking/delivery", data={"id": "ATXid_9", "status": "Success"})
    assert report.status == 403
    for url in ("/sms/africastalking/inbound/ATXid_1", "/sms/africastalking/inbound/ATXid_1?token=wrong"):
        assert (await guarded.get(url)).status == 403  # what became of a message: AT's (the simulator's) to ask
    told = await guarded.get(f"/sms/africastalking/inbound/ATXid_1?token={TOKEN}")
    assert told.status == 200 and await told.json() == {
        "handled": False, "outcome": None, "over": False, "order": None, "sent": []}
    unknown = await guarded.get(f"/sms/africastalking/inbound/ATXid_2?token={TOKEN}")
    assert unknown.status == 404 and (await unknown.json())["error"]["code"] == "sms_not_found"


async def test_a_delivery_report_updates_its_message(client: TestClient, sessions: Sessions) -> None:
    async with sessions.begin() as session:
        session.add(SmsMessage(kind="paid", msisdn="+237670000001", text="Thank you!", at_message_id="ATXid_9",
                               status="Sent"))
    response = await client.post("/sms/africastalking/delivery", data={
        "id": "ATXid_9", "status": "Failed", "phoneNumber": "+237670000001", "networkCode": "62401",
        "failureReason": "UserInBlackList", "retryCount": "0"})
    assert response.status == 200 and (await response.json())["known"] is True
    async with sessions() as session:
        row = await session.scalar(select(SmsMessage))
    assert row is not None and (row.status, row.failure_reason) == ("Failed", "UserInBlackList")
    bad = await client.post("/sms/africastalking/delivery", data={"id": "ATXid_9", "status": "Lost"})
    assert bad.status == 400
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SmsMessage).where(
            SmsMessage.status == "Failed")) == 1


def test_production_refuses_sms_contests_without_a_token_or_at_credentials() -> None:
    production = Settings(_env_file=None, gateway_env=Environment.PRODUCTION,
                          secret_key=SecretStr("x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt"),
                          database_url="postgresql+asyncpg://db/ballot", redis_url="redis://cache",
                          public_base_url="https://vote.example.org", media_upload_url="https://media.example.org",
                          media_files_url="https://media.example.org", results_signing_key=SecretStr(TEST_RESULTS_KEY))
    check_production(production, set())  # no contest takes SMS: it starts
    with pytest.raises(ConfigError, match="SMS_CALLBACK_TOKEN") as refused:
        check_production(production, set(), sms_problems(production, in_use=True))
    assert "AT_USERNAME or AT_API_KEY" in str(refused.value)
    ready = production.model_copy(update={"sms_callback_token": SecretStr(TOKEN), "at_username": "ballot",
                                          "at_api_key": SecretStr("at-key-9f8e7d6c5b4a3210")})
    check_production(ready, set(), sms_problems(ready, in_use=True))
    fake_key = production.model_copy(update={"at_api_key": SecretStr(" " * 40)})  # set, so checked even unused
    with pytest.raises(ConfigError, match="AT_API_KEY must not contain whitespace"):
        check_production(fake_key, set(), sms_problems(fake_key, in_use=False))


async def test_production_without_a_token_takes_no_sms(clean: None, settings: Settings, sessions: Sessions) -> None:
    production = settings.model_copy(update={"gateway_env": Environment.PRODUCTION,
                                             "secret_key": SecretStr("x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt"),
                                             "public_base_url": "https://vote.example.org"})
    async with TestClient(TestServer(create_app(production))) as test_client:
        response = await test_client.post("/sms/africastalking/inbound", data=inbound_form())
        assert response.status == 403 and "SMS_CALLBACK_TOKEN" in (await response.json())["error"]["message"]
        await test_client.app[STARTS].close(grace=0)
    assert await inbound_rows(sessions) == []


async def test_what_became_of_a_message_is_read_back_in_development_only(clean: None, settings: Settings,
                                                                         guarded: TestClient) -> None:
    """`gateway sms`, development's simulator, reads an exchange back; AT never does, so production has no such
    route, the callbacks' token or not."""
    assert (await guarded.post(f"/sms/africastalking/inbound?token={TOKEN}", data=inbound_form())).status == 200
    assert (await guarded.get(f"/sms/africastalking/inbound/ATXid_1?token={TOKEN}")).status == 200
    production = settings.model_copy(update={"gateway_env": Environment.PRODUCTION,
                                             "secret_key": SecretStr("x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt"),
                                             "public_base_url": "https://vote.example.org",
                                             "sms_callback_token": SecretStr(TOKEN)})
    async with TestClient(TestServer(create_app(production))) as test_client:
        assert (await test_client.post(f"/sms/africastalking/inbound?token={TOKEN}",
                                       data=inbound_form(at_id="ATXid_2"))).status == 200  # AT's callbacks: served
        for at_id in ("ATXid_1", "ATXid_2"):
            unserved = await test_client.get(f"/sms/africastalking/inbound/{at_id}?token={TOKEN}")
            assert unserved.status == 404, await unserved.text()
        await test_client.app[STARTS].close(grace=0)
