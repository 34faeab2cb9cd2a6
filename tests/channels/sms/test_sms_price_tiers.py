"""Bundles by SMS: HELP names the contest's price tiers in a message of their own, and `VOTE 07 10` where 10 votes
are a bundle asks MTN (faked at the wire) for the bundle's amount, which the paid order counts."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from assembly.machine.demo import seed_demo
from assembly.worker.job_runtime import JobContext
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import Contest, Tally
from tests.channels.sms.test_voting import handle, prefer_english, receive, ref, sms_orders
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn

TIERS = [{"votes": 1, "amount": 100}, {"votes": 10, "amount": 900}, {"votes": 50, "amount": 4000}]


async def tiered_demo(sessions: Sessions) -> Contest:
    contest = await seed_demo(sessions)
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(price_tiers=TIERS))
    return contest


async def test_a_bundle_by_sms_is_charged_and_counted_at_its_amount(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    contest = await tiered_demo(sessions)
    await prefer_english(sessions)
    assert await handle(job, await receive(client, sessions, "vote 07 10", "ATXid_t1")) == "vote"
    [order] = await sms_orders(sessions)
    assert (order.quantity, order.amount, order.currency) == (10, 900, "XAF")
    assert fake_at.texts() == [f"Approve FCFA 900 on your phone for 10 votes for 07 Grace Ndongo. Ref {ref(order.id)}"]
    assert [status["amount"] for status in fake_mtn.statuses.values()] == ["900"]
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 900, "XAF", "t-tier", provider="mtn")
    async with sessions() as session:
        votes = await session.scalar(select(Tally.votes).join_from(Tally, Contest, Tally.contest_id == Contest.id)
                                     .where(Contest.id == contest.id, Tally.candidate_id == order.candidate_id))
    assert votes == 10


async def test_a_number_that_is_no_bundle_is_priced_per_vote(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await tiered_demo(sessions)
    assert await handle(job, await receive(client, sessions, "vote 07 3", "ATXid_t2")) == "vote"
    [order] = await sms_orders(sessions)
    assert (order.quantity, order.amount) == (3, 300)


async def test_help_names_the_bundles_in_english_and_french(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    await tiered_demo(sessions)
    await prefer_english(sessions)
    assert await handle(job, await receive(client, sessions, "HELP", "ATXid_h1")) == "help"
    assert fake_at.texts()[1] == "Bundles: 1 vote for FCFA 100, 10 votes for FCFA 900, 50 votes for FCFA 4,000"
    assert await handle(job, await receive(client, sessions, "AIDE", "ATXid_h2", sender="+237670000009")) == "help"
    assert fake_at.texts()[3] == "Forfaits: 1 vote pour 100 FCFA, 10 votes pour 900 FCFA, 50 votes pour 4 000 FCFA"


async def test_help_without_bundles_sends_the_usage_alone(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    await seed_demo(sessions)
    assert await handle(job, await receive(client, sessions, "HELP", "ATXid_h3")) == "help"
    assert len(fake_at.texts()) == 1
