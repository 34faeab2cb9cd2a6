"""Messages that reach a web process together go to the worker together: every kept message is queued once, in a
job of one or of several, and the job answers each of its messages once, however often it runs."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient
from rq.job import Job

from assembly.machine.demo import seed_demo
from assembly.worker.job_runtime import JobContext
from assembly.worker.passes import PASSES_BY_NAME, run_pass
from gateway.db.engine import Sessions
from gateway.jobs.queues import answers_queue
from gateway.kit.keys import QUEUE
from tests.channels.sms.test_routes import inbound_form
from tests.channels.sms.test_voting import prefer_english, receive, sms_orders
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn

VOTERS = [f"+2376700001{n:02d}" for n in range(8)]


def queued_batches(client: TestClient) -> list[tuple[str, list[int]]]:
    queue = answers_queue(client.app[QUEUE])
    jobs = [Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer) for job_id in queue.job_ids]
    return [(job.args[0], list(job.args[1])) for job in jobs]


async def test_messages_that_come_together_are_each_queued_once(client: TestClient, sessions: Sessions) -> None:
    answers = await asyncio.gather(*(
        client.post("/sms/africastalking/inbound", data=inbound_form("VOTE 07 1", f"ATXid_{n}", sender=voter))
        for n, voter in enumerate(VOTERS)))
    assert [answer.status for answer in answers] == [200] * len(VOTERS)
    batches = queued_batches(client)
    assert {name for name, _ in batches} == {"sms-inbound-batch"}
    queued = sorted(inbound_id for _, ids in batches for inbound_id in ids)
    assert len(queued) == len(VOTERS) == len(set(queued))


async def test_a_job_of_several_messages_answers_each_once(
        client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    for voter in VOTERS:
        await prefer_english(sessions, voter)
    ids = [await receive(client, sessions, "vote 07 2" if n % 2 else "help", f"ATXid_{n}", sender=voter)
           for n, voter in enumerate(VOTERS)]
    batch = PASSES_BY_NAME["sms-inbound-batch"]
    assert await run_pass(job, batch, ids) == {"help": 4, "vote": 4}
    assert await run_pass(job, batch, ids) == {"done": 8}  # run again, it answers nobody twice
    orders = await sms_orders(sessions)
    assert sorted(order.voter_msisdn for order in orders) == VOTERS[1::2]
    assert fake_mtn.pay_calls == 4
    assert sorted(sent["to"] for sent in fake_at.sent) == sorted(VOTERS)
    assert sum(text.startswith("Approve FCFA 200") for text in fake_at.texts()) == 4
