"""A vote by SMS from the inbound form to the receipt: the job reads the message, places the order through
the core, answers through Africa's Talking (faked at the wire with `responses`, as the SDK uses requests),
pushes the prompt (MTN faked with respx), and the receipt goes once per paid order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from assembly.machine.demo import seed_demo
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import outbox_handlers
from channels.phone.at_sdk import SEND_ERRORS
from channels.sms.channel import sms_context
from channels.sms.handling import handle_inbound
from channels.sms.models import SmsInbound, SmsMessage
from gateway.core.orders import closing, counting
from gateway.db.engine import Sessions
from gateway.db.models import BlockedMsisdn, Contest, ContestStatus, OutboxMessage, VoteOrder, VoterPreference
from gateway.jobs import outbox
from tests.channel_names import Channel
from tests.channels.sms.test_routes import inbound_form
from tests.factories import make_contest
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn

VOTER = "+237670000001"


async def receive(client: TestClient, sessions: Sessions, text: str, at_id: str, sender: str = VOTER) -> int:
    response = await client.post("/sms/africastalking/inbound", data=inbound_form(text, at_id, sender=sender))
    assert response.status == 200
    async with sessions() as session:
        inbound_id = await session.scalar(select(SmsInbound.id).where(SmsInbound.at_id == at_id))
    assert inbound_id is not None
    return inbound_id


async def handle(ctx: JobContext, inbound_id: int) -> str:
    context = sms_context(ctx)
    context.sender.retry_delays = (0.0, 0.0, 0.0)
    return await handle_inbound(context, inbound_id)


async def deliver_outbox(ctx: JobContext, runs: int = 1) -> None:
    async with ctx.sessions() as session:
        ids = (await session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))).all()
    for _ in range(runs):
        for outbox_id in ids:
            await outbox.deliver(ctx.sessions, outbox_id, outbox_handlers(ctx))


async def sms_orders(sessions: Sessions) -> list[VoteOrder]:
    async with sessions() as session:
        return list(await session.scalars(select(VoteOrder).where(VoteOrder.channel == Channel.SMS)))


def ref(order_id: uuid.UUID) -> str:
    return order_id.hex[:8].upper()


async def prefer_english(sessions: Sessions, msisdn: str = VOTER) -> None:
    async with sessions.begin() as session:
        session.add(VoterPreference(msisdn=msisdn, language="en"))


async def test_a_vote_gets_its_prompt_reply_then_one_confirmation(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    await prefer_english(sessions)
    inbound_id = await receive(client, sessions, "vote 07 5", "ATXid_a")
    assert await handle(job, inbound_id) == "vote"
    assert await handle(job, inbound_id) == "done"  # a job run twice answers once
    [order] = await sms_orders(sessions)
    assert (order.quantity, order.amount, order.provider, order.voter_msisdn) == (5, 500, "mtn", VOTER)
    assert fake_at.texts() == [f"Approve FCFA 500 on your phone for 5 votes for 07 Grace Ndongo. Ref {ref(order.id)}"]
    assert fake_at.sent[0]["to"] == VOTER
    assert fake_mtn.pay_calls == 1  # the prompt was pushed after the reply
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 500, "XAF", "t-1", provider="mtn")
    await deliver_outbox(job, runs=2)
    assert fake_at.texts()[1:] == [f"Thank you! 5 votes for 07 Grace Ndongo counted. Ref {ref(order.id)}"]
    async with sessions() as session:
        rows = (await session.execute(select(SmsMessage.kind, SmsMessage.status, SmsMessage.at_message_id)
                                      .order_by(SmsMessage.id))).all()
    assert [tuple(r) for r in rows] == [("prompt", "Sent", "ATXid_out1"), ("paid", "Sent", "ATXid_out2")]


async def test_french_by_default_and_the_failure_says_why(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    inbound_id = await receive(client, sessions, "VOTER 7 x2", "ATXid_b", sender="+237670000451")
    await handle(job, inbound_id)
    [order] = await sms_orders(sessions)
    await closing.fail_order(sessions, order.id, "APPROVAL_REJECTED")
    await deliver_outbox(job)
    assert fake_at.texts() == [
        f"Validez 200 FCFA sur votre téléphone pour 2 votes pour 07 Grace Ndongo. Ref {ref(order.id)}",
        f"Paiement échoué, 2 votes pour 07 Grace Ndongo non comptés: Le paiement a été refusé sur le téléphone. "
        f"Ref {ref(order.id)}",
    ]


async def test_a_swahili_voter_is_answered_in_swahili_and_told_why_the_payment_failed(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    """The number chose Swahili (on USSD, say): its replies and receipts speak it, M-Pesa's and Airtel's
    reasons included (a wrong PIN, a prompt already open on the phone)."""
    await seed_demo(sessions)
    async with sessions.begin() as session:
        session.add(VoterPreference(msisdn=VOTER, language="sw"))
    assert await handle(job, await receive(client, sessions, "msaada", "ATXid_h")) == "help"
    first = await receive(client, sessions, "vote 07 2", "ATXid_v1")
    await handle(job, first)
    second = await receive(client, sessions, "vote 07 1", "ATXid_v2")
    await handle(job, second)
    wrong_pin, open_prompt = sorted(await sms_orders(sessions), key=lambda order: order.quantity, reverse=True)
    await closing.fail_order(sessions, wrong_pin.id, "WRONG_PIN")
    await closing.fail_order(sessions, open_prompt.id, "PROMPT_PENDING")
    await deliver_outbox(job)
    texts = fake_at.texts()
    assert texts[0] == ("Kupiga kura, tuma VOTE <nambari> <kura> kwenda 20123, mfano VOTE 07 5. TOP: matokeo. "
                        "STOP: sitisha ujumbe.")
    assert f"Thibitisha FCFA 200 kwenye simu yako kwa kura 2 za 07 Grace Ndongo. Kumb {ref(wrong_pin.id)}" in texts
    assert (f"Malipo hayakufanikiwa, kura 2 za 07 Grace Ndongo hazikuhesabiwa: PIN iliyowekwa kwenye simu si "
            f"sahihi. Kumb {ref(wrong_pin.id)}") in texts
    assert (f"Malipo hayakufanikiwa, kura 1 ya 07 Grace Ndongo haikuhesabiwa: Kuna ombi la malipo wazi kwenye "
            f"simu hii: limalize kwanza. Kumb {ref(open_prompt.id)}") in texts


async def test_help_top_unrecognised_and_a_bad_quantity(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    await seed_demo(sessions)
    await prefer_english(sessions)
    outcomes = [await handle(job, await receive(client, sessions, text, f"ATXid_{n}"))
                for n, text in enumerate(["HELP", "hello there", "VOTE 07 500", "TOP"])]
    assert outcomes == ["help", "unrecognised", "bad_quantity", "top"]
    usage = ("To vote, send VOTE <number> <votes> to 20123, e.g. VOTE 07 5. TOP: ranking. STOP: no more messages.")
    assert fake_at.texts() == [usage, usage, "You can buy 1 to 100 votes per message, e.g. VOTE 07 5.",
                               "No votes counted yet."]
    assert await sms_orders(sessions) == []
    async with sessions() as session:
        kept = (await session.scalars(select(SmsInbound.text).where(SmsInbound.outcome == "unrecognised"))).all()
    assert kept == ["hello there"]


async def test_stop_silences_everything_but_receipts(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    await prefer_english(sessions)
    await handle(job, await receive(client, sessions, "ARRÊT", "ATXid_s"))
    assert fake_at.texts() == ["You will get no more messages, except receipts for your votes. Send HELP for help."]
    await handle(job, await receive(client, sessions, "HELP", "ATXid_h"))
    await handle(job, await receive(client, sessions, "VOTE 07 1", "ATXid_v"))
    assert len(fake_at.sent) == 1  # no usage, no prompt reply
    [order] = await sms_orders(sessions)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 100, "XAF", "t-2", provider="mtn")
    await deliver_outbox(job)
    assert fake_at.texts()[1:] == [f"Thank you! 1 vote for 07 Grace Ndongo counted. Ref {ref(order.id)}"]


async def test_at_errors_are_retried_and_a_blocked_number_is_told(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    await seed_demo(sessions)
    await prefer_english(sessions)
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn=VOTER, reason="test"))
    fake_at.failures = 2
    await handle(job, await receive(client, sessions, "VOTE 07 5", "ATXid_x"))
    assert fake_at.texts() == ["This number cannot vote. Contact the organiser if this is a mistake."]
    assert await sms_orders(sessions) == []


async def test_a_premium_short_code_replies_with_the_inbound_link_id(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    await seed_demo(sessions)
    await prefer_english(sessions)
    premium = JobContext(job.settings.model_copy(update={"at_premium_short_codes": "20123"}), job.sessions, job.redis,
                         job.providers)
    await handle(premium, await receive(client, sessions, "HELP", "ATXid_p"))
    [sent] = fake_at.sent
    assert (sent["from"], sent["linkId"], sent["bulkSMSMode"], sent["to"]) == ("20123", "SampleLinkId123", "0", VOTER)


async def test_at_down_leaves_the_reply_unsent_and_the_vote_goes_on(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    fake_at.failures = 100
    inbound_id = await receive(client, sessions, "VOTE 07 2", "ATXid_d")
    assert await handle(job, inbound_id) == "vote"
    assert fake_at.sent == [] and fake_mtn.pay_calls == 1
    async with sessions() as session:
        [row] = (await session.scalars(select(SmsMessage))).all()
    assert (row.kind, row.status, row.at_message_id) == ("prompt", "unsent", None)


async def test_a_receipt_at_could_not_take_goes_out_on_a_later_run_once(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    await prefer_english(sessions)
    await handle(job, await receive(client, sessions, "VOTE 07 1", "ATXid_r"))
    [order] = await sms_orders(sessions)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 100, "XAF", "t-r", provider="mtn")
    fake_at.failures = 100  # AT down for the receipt's first run, retries and all: its row is left unsent
    with pytest.raises(SEND_ERRORS):
        await deliver_outbox(job)
    fake_at.failures = 0
    assert len(fake_at.sent) == 1 and await receipt_status(sessions, order.id) == "unsent"  # the prompt only
    await deliver_outbox(job, runs=3)
    assert fake_at.texts()[1:] == [f"Thank you! 1 vote for 07 Grace Ndongo counted. Ref {ref(order.id)}"]
    assert await receipt_status(sessions, order.id) == "Sent"


async def receipt_status(sessions: Sessions, order_id: uuid.UUID) -> str | None:
    async with sessions() as session:
        return await session.scalar(select(SmsMessage.status).where(SmsMessage.order_id == order_id,
                                                                    SmsMessage.kind == "paid"))


async def test_an_open_contest_takes_the_keyword_a_closed_one_kept(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    now = datetime.now(UTC)
    await make_contest(sessions, slug="last-year", status=ContestStatus.CLOSED, sms_short_code="20123",
                       closes_at=now - timedelta(minutes=1), opens_at=now - timedelta(days=2))
    await seed_demo(sessions)
    assert await handle(job, await receive(client, sessions, "VOTE 07 1", "ATXid_o")) == "vote"
    [order] = await sms_orders(sessions)
    assert fake_at.texts() == [
        f"Validez 100 FCFA sur votre téléphone pour 1 vote pour 07 Grace Ndongo. Ref {ref(order.id)}"]


async def test_a_paused_contest_says_it_is_paused_not_closed(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    """Pausing is the organiser's move on air: a viewer told "closed" would not text again once it resumes."""
    demo = await seed_demo(sessions)
    await prefer_english(sessions)
    async with sessions.begin() as session:
        (await session.get_one(Contest, demo.id)).status = ContestStatus.PAUSED
    assert await handle(job, await receive(client, sessions, "VOTE 07 1", "ATXid_paused")) == "refused"
    assert fake_at.texts() == ["Voting for Demo Star 2026 is paused. Please try again later."]
    assert await sms_orders(sessions) == []
