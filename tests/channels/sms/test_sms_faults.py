"""SMS under the faults of a show night: AT re-posting a message (within its ~10 minutes of retries, or
hours later), a job run twice: nothing is created, placed or sent twice."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from assembly.machine.demo import seed_demo
from assembly.worker.job_runtime import JobContext
from channels.sms.models import SmsInbound, SmsMessage
from gateway.db.engine import Sessions
from gateway.db.models import VoteOrder
from gateway.jobs.queues import answers_queue
from gateway.kit.keys import QUEUE
from tests.channels.sms.test_routes import inbound_form
from tests.channels.sms.test_voting import handle, receive
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn


async def count(sessions: Sessions, model: type[SmsInbound] | type[SmsMessage] | type[VoteOrder]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_same_inbound_id_replayed_hours_later_creates_nothing(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    inbound_id = await receive(client, sessions, "VOTE 07 5", "ATXid_r")
    await handle(job, inbound_id)
    async with sessions.begin() as session:  # the message came five hours ago
        await session.execute(update(SmsInbound).values(received_at=func.now() - func.make_interval(0, 0, 0, 0, 5)))
    queued = len(answers_queue(client.app[QUEUE]).job_ids)
    response = await client.post("/sms/africastalking/inbound", data=inbound_form("VOTE 07 5", "ATXid_r"))
    assert response.status == 200 and (await response.json())["duplicate"] is True
    assert len(answers_queue(client.app[QUEUE]).job_ids) == queued  # no job queued for it
    assert await handle(job, inbound_id) == "done"  # and a stray job for it does nothing
    assert (await count(sessions, SmsInbound), await count(sessions, VoteOrder), await count(sessions, SmsMessage)) \
        == (1, 1, 1)
    assert len(fake_at.sent) == 1 and fake_mtn.pay_calls == 1
