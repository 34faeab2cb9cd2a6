"""A new channel is its folder plus one line in assembly/channel_list.py: what it brings (its orders, its receipts,
its own tables) works without a change to the core, its schema or the assembly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select, text

from assembly.channel_list import MIGRATIONS, PUSH_CHANNELS
from assembly.machine.embedded import ServiceUrls
from assembly.provider_list import PROVIDERS
from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import outbox_handlers
from gateway.core.orders import counting
from gateway.core.orders.receipts import Receipt, ReceiptKind
from gateway.db.engine import Sessions, create_engine
from gateway.db.migrate import upgrade
from gateway.db.models import OutboxMessage, VoteOrder
from gateway.jobs import outbox
from gateway.kit.provider_parts import ProviderResources
from payments.orange import OrangePush, OrangeWebPay
from payments.registry import build_registry
from tests.factories import make_contest, place
from tests.servers import throwaway_database

# A newcomer's channel's first migration: a branch of its own, after the core's schema it needs.
TOY_MIGRATION = '''
from alembic import op
import sqlalchemy as sa

revision = "toy_0001"
down_revision = None
branch_labels = ("toy",)
depends_on = "0013"


def upgrade() -> None:
    op.create_table("toy_messages", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("order_id", sa.Uuid, sa.ForeignKey("vote_orders.id")))
'''


class Recorder:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []

    async def __call__(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)


@pytest.fixture
async def toy_context(settings: Settings, sessions: Sessions,
                      redis: Redis) -> AsyncIterator[tuple[JobContext, Recorder]]:
    recorder = Recorder()
    async with httpx.AsyncClient() as http:
        registry = build_providers(settings, http)
        yield JobContext(settings, sessions, redis, registry, {"toy": recorder}), recorder
        await registry.aclose()


async def test_a_channel_the_core_never_heard_of_places_counts_and_gets_its_receipts(
        toy_context: tuple[JobContext, Recorder]) -> None:
    ctx, recorder = toy_context
    contest = await make_contest(ctx.sessions)
    # Its ChannelParts has receipts, so its VoteService (built from the channel list) marks its orders receipted.
    order = await place(ctx.sessions, contest, candidate="02", quantity=4, channel="toy", sends_receipt=True)
    await counting.confirm_payment(ctx.sessions, order.id, "SUCCESSFUL", 400, "XAF", "t-toy", provider="mtn")
    async with ctx.sessions() as session:
        assert await session.scalar(select(VoteOrder.channel).where(VoteOrder.id == order.id)) == "toy"
        ids = (await session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))).all()
    for outbox_id in ids:
        await outbox.deliver(ctx.sessions, outbox_id, outbox_handlers(ctx))
    [receipt] = recorder.receipts
    assert (receipt.kind, receipt.order.quantity, receipt.order.candidate_code) == (ReceiptKind.PAID, 4, "02")


def test_a_channels_own_tables_migrate_with_the_core(services: ServiceUrls, tmp_path: Path) -> None:
    branch = tmp_path / "toy_migrations"
    branch.mkdir()
    (branch / "toy_0001_messages.py").write_text(TOY_MIGRATION)
    with throwaway_database(services.database_url) as url:
        upgrade(url, (*MIGRATIONS, branch))
        upgrade(url, (*MIGRATIONS, branch))  # again: nothing to do, no error

        async def tables() -> set[str]:
            engine = create_engine(url, pool_size=1)
            try:
                async with engine.connect() as connection:
                    rows = await connection.execute(text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                    return {row[0] for row in rows}
            finally:
                await engine.dispose()

        assert {"toy_messages", "vote_orders", "sms_inbound"} <= asyncio.run(tables())



async def test_orange_pushes_its_prompt_for_the_channels_that_declare_it(settings: Settings) -> None:
    """Whether a channel's voters get a prompt on their phone is its `ChannelParts.pushes_payment_prompt`:
    the phone channels declare it, a newcomer's channel may, every other gets the payment page."""
    assert PUSH_CHANNELS == {"ussd", "sms"}
    async with httpx.AsyncClient() as http:
        providers = build_providers(settings, http)
        toy_pushes = build_registry(PROVIDERS, settings, ProviderResources(http), push_channels={"toy"})
        try:
            assert [type(providers.for_order("orange", name)) for name in ("ussd", "sms", "web", "telegram", "toy")] \
                == [OrangePush, OrangePush, OrangeWebPay, OrangeWebPay, OrangeWebPay]
            assert isinstance(toy_pushes.for_order("orange", "toy"), OrangePush)
        finally:
            await providers.aclose()
            await toy_pushes.aclose()
