"""A worker answering SMS votes reads the short code's contests once every few seconds, not for every message: at a
show's pace those reads were a quarter of an SMS vote's handling. A candidate eliminated meanwhile is still refused,
by the placing of the order, which reads it afresh."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import event, update

from assembly.machine.demo import seed_demo
from assembly.worker.job_runtime import JobContext
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, CandidateStatus
from tests.channels.sms.test_voting import handle, receive, sms_orders
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn


async def contest_reads(job: JobContext, inbound_id: int) -> tuple[str, int]:
    reads: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM contests" in statement and "vote_orders" not in statement:
            reads.append(statement)

    engine = job.sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        outcome = await handle(job, inbound_id)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return outcome, len(reads)


async def test_the_second_vote_of_a_moment_reads_no_contest_and_an_eliminated_candidate_is_still_refused(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    first = await receive(client, sessions, "VOTE 07 1", "ATXid_r1", sender="+237670000501")
    outcome, reads = await contest_reads(job, first)
    assert outcome == "vote" and reads >= 2  # the short code's contests, then the chosen one's candidates
    second = await receive(client, sessions, "VOTE 07 1", "ATXid_r2", sender="+237670000502")
    assert await contest_reads(job, second) == ("vote", 0)
    async with sessions.begin() as session:
        await session.execute(update(Candidate).where(Candidate.code == "07").values(status=CandidateStatus.ELIMINATED))
    third = await receive(client, sessions, "VOTE 07 1", "ATXid_r3", sender="+237670000503")
    assert (await contest_reads(job, third))[0] == "refused"
    assert len(await sms_orders(sessions)) == 2
    assert fake_at.texts()[-1] == "Ce candidat ne peut plus recevoir de votes."
