"""A voter who waits for a message (SMS, Telegram) is told once their order is decided, once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import outbox_handlers
from gateway.core.orders import closing, counting
from gateway.core.orders.placing import OrderRequest
from gateway.core.orders.receipts import Receipt, ReceiptKind
from gateway.core.service import VoteService
from gateway.db.engine import Sessions
from gateway.db.models import OutboxMessage
from gateway.jobs import outbox
from leaderboard.boards import Boards
from tests.channel_names import Channel
from tests.factories import PENDING_TTL, make_contest, place


class Recorder:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []

    async def __call__(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)


@pytest.fixture
async def context(settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[tuple[JobContext, Recorder]]:
    recorder = Recorder()
    async with httpx.AsyncClient() as http:
        registry = build_providers(settings, http)
        yield JobContext(settings, sessions, redis, registry, {Channel.SMS: recorder}), recorder
        await registry.aclose()


async def deliver_everything(ctx: JobContext, runs: int = 1) -> None:
    async with ctx.sessions() as session:
        ids = (await session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))).all()
    for _ in range(runs):
        for outbox_id in ids:
            await outbox.deliver(ctx.sessions, outbox_id, outbox_handlers(ctx))


async def test_a_paid_sms_order_gets_one_receipt_with_what_was_counted(context: tuple[JobContext, Recorder]) -> None:
    ctx, recorder = context
    contest = await make_contest(ctx.sessions, name="Demo Star")
    order = await place(ctx.sessions, contest, candidate="02", quantity=3, channel=Channel.SMS)
    await counting.confirm_payment(ctx.sessions, order.id, "SUCCESSFUL", 300, "XAF", "t-1", provider="mtn")
    await deliver_everything(ctx, runs=2)
    [receipt] = recorder.receipts
    assert (receipt.kind, receipt.order.quantity, receipt.order.candidate_code) == (ReceiptKind.PAID, 3, "02")
    assert (receipt.contest_name, receipt.payer_msisdn, receipt.order.reference) == (
        "Demo Star", "+237670000001", order.id.hex[:8].upper())


async def test_failed_and_expired_orders_get_theirs(context: tuple[JobContext, Recorder]) -> None:
    ctx, recorder = context
    contest = await make_contest(ctx.sessions)
    failed = await place(ctx.sessions, contest, channel=Channel.SMS, msisdn="+237670000450")
    expired = await place(ctx.sessions, contest, channel=Channel.SMS, msisdn="+237670000452")
    await closing.fail_order(ctx.sessions, failed.id, "payer declined")
    await closing.expire_order(ctx.sessions, expired.id)
    await deliver_everything(ctx)
    assert {(r.order.id, r.kind, r.order.status_reason) for r in recorder.receipts} == {
        (failed.id, ReceiptKind.FAILED, "payer declined"), (expired.id, ReceiptKind.EXPIRED, "no payment in time")}


async def test_channels_without_a_sender_and_the_web_get_no_message(context: tuple[JobContext, Recorder]) -> None:
    ctx, recorder = context
    contest = await make_contest(ctx.sessions)
    web = await place(ctx.sessions, contest, channel=Channel.WEB)
    telegram = await place(ctx.sessions, contest, channel=Channel.TELEGRAM, msisdn="+237670000002")
    for order in (web, telegram):
        await counting.confirm_payment(ctx.sessions, order.id, "SUCCESSFUL", 100, "XAF", f"t-{order.id}",
                                       provider="mtn")
    await deliver_everything(ctx)
    assert recorder.receipts == []
    async with ctx.sessions() as session:
        topics = (await session.scalars(select(OutboxMessage.topic))).all()
    assert sorted(topics) == ["order.paid", "vote.confirmed", "vote.confirmed"]  # the web's vote needs no receipt


async def test_channels_the_core_never_heard_of_get_receipts_when_they_send_them(
        context: tuple[JobContext, Recorder], settings: Settings) -> None:
    """Whether an order is receipted is its channel's word at placement (`ChannelParts.receipts`), not a list in
    the core: a new messaging channel's orders are, a new kiosk's (the outcome on its own screen) are not."""
    ctx, _ = context
    contest = await make_contest(ctx.sessions)

    class NoStarts:
        claims_at_placement = False

        def request(self, order_id: object, *, after: float = 0.0, claimed: object = None) -> None: ...

        async def wait_for_room(self) -> None: ...

    service = VoteService(ctx.sessions, ctx.providers, Boards(ctx.sessions, ctx.redis, 60), NoStarts(),
                          pending_ttl=PENDING_TTL, receipt_channels=frozenset({"whatsapp", Channel.SMS}))
    placed = {channel: (await service.place_vote(OrderRequest(
        contest.slug, "01", 1, "mtn", channel, msisdn=f"+23767000020{n}"))).order
        for n, channel in enumerate(("whatsapp", "kiosk", Channel.USSD))}
    for order in placed.values():
        await counting.confirm_payment(ctx.sessions, order.id, "SUCCESSFUL", 100, "XAF", f"t-{order.id}",
                                       provider="mtn")
    async with ctx.sessions() as session:
        receipted = (await session.scalars(select(OutboxMessage.payload["order_id"].astext)
                                           .where(OutboxMessage.topic == "order.paid"))).all()
    assert receipted == [str(placed["whatsapp"].id)]
