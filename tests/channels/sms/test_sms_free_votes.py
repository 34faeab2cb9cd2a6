"""A free vote by SMS: `FREE 07` takes the sender's number's free vote of the day, a second is refused, a blocked
number is refused, and neither the provider nor any order sees it (MTN faked at the wire records no call)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from assembly.machine.demo import seed_demo
from assembly.worker.job_runtime import JobContext
from channels.sms.free_votes import FreeAsked, parse_free
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import BlockedMsisdn, Contest, FreeVote, VoteOrder
from tests.channels.sms.test_voting import VOTER, handle, prefer_english, receive
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn


async def give_free_votes(sessions: Sessions, per_day: int = 1) -> Contest:
    contest = await seed_demo(sessions)
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(free_votes_per_day=per_day))
    return contest


async def counts(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        free = await session.scalar(select(func.count()).select_from(FreeVote).where(FreeVote.channel == "sms"))
        orders = await session.scalar(select(func.count()).select_from(VoteOrder))
    return int(free or 0), int(orders or 0)


def test_the_free_word_reads_in_every_language() -> None:
    keywords = {"STAR", "VOTE"}
    assert parse_free("free 07", keywords) == FreeAsked("07", None)
    assert parse_free("Gratuit 7", keywords) == FreeAsked("7", None)
    assert parse_free("BURE star 07", keywords) == FreeAsked("07", "STAR")
    assert parse_free("FREE07", keywords) == FreeAsked("07", None)
    assert parse_free("FREE 07 5", keywords) is None and parse_free("free stuff", keywords) is None
    assert parse_free("VOTE 07", keywords) is None


async def test_a_number_takes_its_free_vote_once_a_day(client: TestClient, sessions: Sessions, job: JobContext,
                                                      fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    contest = await give_free_votes(sessions)
    await prefer_english(sessions)
    first = await handle(job, await receive(client, sessions, "FREE 7", "ATXid_f1"))
    assert first == "free_vote", fake_at.texts()
    assert await handle(job, await receive(client, sessions, "free 03", "ATXid_f2")) == "free_refused"
    assert fake_at.texts() == [
        "Thank you! Your free vote for 07 Grace Ndongo is counted. 0 free votes left today.",
        "This number has taken its free votes for today. Come back tomorrow, or vote by mobile money."]
    assert await counts(sessions) == (1, 0)
    assert fake_mtn.pay_calls == 0  # no provider hears of a free vote
    assert (await ledger.verify(sessions, contest.id)).clean


async def test_a_blocked_number_is_refused_and_nothing_is_recorded(client: TestClient, sessions: Sessions,
                                                                   job: JobContext, fake_at: FakeAt) -> None:
    await give_free_votes(sessions)
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn=VOTER, reason="test"))
    assert await handle(job, await receive(client, sessions, "GRATUIT 07", "ATXid_b1")) == "free_refused"
    assert fake_at.texts() == ["Ce numéro ne peut pas voter. Contactez l'organisateur si c'est une erreur."]
    assert await counts(sessions) == (0, 0)


async def test_a_contest_without_free_votes_says_so(client: TestClient, sessions: Sessions, job: JobContext,
                                                    fake_at: FakeAt) -> None:
    await seed_demo(sessions)
    assert await handle(job, await receive(client, sessions, "GRATUIT 07", "ATXid_n1")) == "free_refused"
    assert fake_at.texts() == ["Demo Star 2026 ne donne pas de vote gratuit en ce moment."]
