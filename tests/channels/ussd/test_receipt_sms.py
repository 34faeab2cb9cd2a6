"""A USSD vote is followed by an SMS once its order is decided: the receipt of a paid order, or why it failed, in
the voter's language, once however often the relay runs; none where the organiser turned it off. The vote goes
through Africa's Talking's USSD callback (`POST /ussd/africastalking`) with the MTN sandbox on localhost, and the SMS
through AT's messaging API faked at the wire (`responses`: the SDK uses requests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext, build_receipt_senders
from assembly.worker.worker_jobs import outbox_handlers
from channels.phone.at_sdk import SEND_ERRORS
from channels.ussd.contest_settings import USSD_CONTEST_SETTINGS
from channels.ussd.models import UssdReceiptText
from channels.ussd.receipts import UssdReceiptSender
from gateway.core.orders import closing, counting
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OutboxMessage, VoteOrder
from gateway.jobs import outbox
from tests.channels.ussd.sessions import (
    DEMO_CODE,
    MTN_NUMBER,
    Phones,
    dial,
    hop,
    orders,
    phone_client,  # noqa: F401 (the fixture `client`)
)
from tests.fakes.africastalking import FakeAt


@pytest.fixture
async def job(settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[JobContext]:
    """The worker's context, with an AT account whose SMS go to the fake (retried at once, not after seconds)."""
    at_settings = settings.model_copy(update={"at_username": "sandbox", "at_api_key": SecretStr("at-key-0123456789")})
    async with httpx.AsyncClient() as http:
        registry = build_providers(at_settings, http)
        senders = build_receipt_senders(at_settings, sessions, http)
        sender = senders["ussd"]
        assert isinstance(sender, UssdReceiptSender) and sender.messaging is not None
        sender.messaging.retry_delays = (0.0, 0.0)
        yield JobContext(at_settings, sessions, redis, registry, senders)
        await registry.aclose()


async def relay(ctx: JobContext, runs: int = 1) -> None:
    """What the worker's relay does with every outbox row (the board, the receipts), `runs` times over."""
    async with ctx.sessions() as session:
        ids = (await session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))).all()
    for _ in range(runs):
        for outbox_id in ids:
            await outbox.deliver(ctx.sessions, outbox_id, outbox_handlers(ctx))


async def vote(client: TestClient, sessions: Sessions, path: str = "1*07*5*1*1", number: str = MTN_NUMBER,
               session_id: str = "ATUid_1") -> VoteOrder:
    screens = await dial(client, path, msisdn=number, session_id=session_id)
    assert screens[-1].startswith("END "), screens[-1]
    return (await orders(sessions))[-1]


def ref(order: VoteOrder) -> str:
    return order.id.hex[:8].upper()


async def test_a_paid_ussd_vote_gets_one_sms_receipt(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str], job: JobContext,
        fake_at: FakeAt) -> None:
    order = await vote(client, sessions)
    await relay(job)
    assert fake_at.sent == []  # nothing is decided yet
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 500, "XAF", "mtn-txn-1", provider="mtn")
    await relay(job, runs=3)  # a relay that runs again texts nothing more
    assert fake_at.texts() == [f"Merci! 5 votes pour 07 Grace Ndongo comptés. Ref {ref(order)}"]
    assert fake_at.sent[0]["to"] == MTN_NUMBER
    async with sessions() as session:
        kept = (await session.execute(select(UssdReceiptText.kind, UssdReceiptText.status,
                                             UssdReceiptText.at_message_id))).all()
    assert [tuple(row) for row in kept] == [("paid", "Sent", "ATXid_out1")]


async def test_a_failed_ussd_vote_is_told_why_once_in_the_language_of_its_screens(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str], job: JobContext,
        fake_at: FakeAt) -> None:
    await dial(client, "4*2", session_id="ATUid_lang")  # English, remembered for the number
    order = await vote(client, sessions, "1*07*1*1*1", session_id="ATUid_vote")
    fake_at.failures = 3  # AT down for the first run: its row is left unsent, and the next run sends it
    await closing.fail_order(sessions, order.id, "NOT_ENOUGH_FUNDS")
    with pytest.raises(SEND_ERRORS):
        await relay(job)
    await relay(job, runs=3)
    assert fake_at.texts() == [f"Payment failed, 1 vote for 07 Grace Ndongo not counted: There was not enough money "
                               f"in the account. Ref {ref(order)}"]
    await closing.fail_order(sessions, order.id, "NOT_ENOUGH_FUNDS")  # a pass that tries again writes nothing new
    await relay(job)
    assert len(fake_at.sent) == 1


async def test_a_swahili_voter_is_told_in_swahili_and_an_expired_order_too(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str], job: JobContext,
        fake_at: FakeAt) -> None:
    await dial(client, "4*3", session_id="ATUid_lang")
    wrong_pin = await vote(client, sessions, "1*07*2*1*1", session_id="ATUid_a")
    late = await vote(client, sessions, "1*03*1*1*1", session_id="ATUid_b")
    await closing.fail_order(sessions, wrong_pin.id, "The PIN was wrong. (WRONG_PIN)")
    await closing.expire_order(sessions, late.id)
    await relay(job)
    assert sorted(fake_at.texts()) == sorted([
        f"Malipo hayakufanikiwa, kura 2 za 07 Grace Ndongo hazikuhesabiwa: PIN iliyowekwa kwenye simu si sahihi. "
        f"Kumb {ref(wrong_pin)}",
        f"Malipo hayakuthibitishwa kwa wakati, kura 1 ya 03 Chantal Mbarga haikuhesabiwa. Kumb {ref(late)}"])


async def test_the_contest_can_turn_the_sms_off(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str], job: JobContext,
        fake_at: FakeAt) -> None:
    async with sessions.begin() as session:
        await USSD_CONTEST_SETTINGS.parse({"ussd_service_codes": DEMO_CODE, "ussd_no_receipt_sms": "on"}).save(
            session, demo.id)
    paid = await vote(client, sessions, session_id="ATUid_a")
    failed = await vote(client, sessions, "1*03*1*1*1", session_id="ATUid_b")
    await counting.confirm_payment(sessions, paid.id, "SUCCESSFUL", 500, "XAF", "mtn-txn-2", provider="mtn")
    await closing.fail_order(sessions, failed.id, "APPROVAL_REJECTED")
    await relay(job)
    assert fake_at.sent == []
    async with sessions() as session:
        assert (await USSD_CONTEST_SETTINGS.load(session, [demo.id]))[demo.id].fields() == {
            "ussd_service_codes": [DEMO_CODE], "ussd_no_receipt_sms": True}


async def test_my_votes_says_why_an_order_failed(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    declined = await vote(client, sessions, "1*07*2*1*1", session_id="ATUid_a")
    poor = await vote(client, sessions, "1*03*1*1*1", session_id="ATUid_b")
    await closing.fail_order(sessions, declined.id, "The payment was declined on the phone. (APPROVAL_REJECTED)")
    await closing.fail_order(sessions, poor.id, "NOT_ENOUGH_FUNDS")
    await hop(client, "", session_id="ATUid_c")
    assert await hop(client, "3", session_id="ATUid_c") == (
        "CON Mes votes: 0 compté\n03 Chantal Mbarga x1 échoué: solde insuffisant\n"
        "07 Grace Ndongo x2 échoué: refusé sur le tél.\n0 Retour 00 Accueil")
