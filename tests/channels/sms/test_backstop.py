"""The SMS backstop: a message whose job was lost is answered by the next pass; messages AT holds that no
callback brought are fetched (the SDK's fetch_messages) and answered; nothing is answered twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import responses
from sqlalchemy import select

from assembly.machine.demo import seed_demo
from assembly.worker.job_runtime import JobContext
from channels.sms.backstop import LAST_FETCHED_KEY
from channels.sms.channel import backstop_job as sms_backstop
from channels.sms.models import SmsInbound
from gateway.db.engine import Sessions
from gateway.db.models import VoterPreference
from tests.fakes.africastalking import AT_URL, FakeAt

USAGE = "To vote, send VOTE <number> <votes> to 20123, e.g. VOTE 07 5. TOP: ranking. STOP: no more messages."


async def english(sessions: Sessions, *numbers: str) -> None:
    async with sessions.begin() as session:
        session.add_all(VoterPreference(msisdn=n, language="en") for n in numbers)


async def test_a_message_whose_job_was_lost_is_answered_by_the_next_pass(
        sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    await seed_demo(sessions)
    await english(sessions, "+237670000001")
    async with sessions.begin() as session:
        session.add(SmsInbound(at_id="ATXid_lost", msisdn="+237670000001", short_code="20123", text="HELP",
                               received_at=datetime.now(UTC) - timedelta(minutes=5)))
        session.add(SmsInbound(at_id="ATXid_new", msisdn="+237670000001", short_code="20123", text="HELP"))
    assert await sms_backstop(job) == 1  # the one a minute old; the new one's job is still under way
    assert fake_at.texts() == [USAGE]
    assert await sms_backstop(job) == 0 and len(fake_at.sent) == 1


async def test_messages_at_holds_are_fetched_kept_once_and_answered(
        sessions: Sessions, job: JobContext, fake_at: FakeAt) -> None:
    await seed_demo(sessions)
    await english(sessions, "+237670000002")
    held = {"SMSMessageData": {"Messages": [
        {"linkId": "L1", "text": "help", "to": "20123", "id": 15071, "date": "2026-11-22T21:04:45Z",
         "from": "+237670000002"}]}}
    fake_at.mock.add(responses.GET, AT_URL, body=json.dumps(held), content_type="application/json")
    assert await sms_backstop(job) == 1
    assert await sms_backstop(job) == 0  # fetched again, already kept: nothing new
    assert fake_at.texts() == [USAGE]
    assert await job.redis.get(LAST_FETCHED_KEY) == b"15071"
    assert fake_at.mock.calls[-1].request.url.endswith("lastReceivedId=15071")
    async with sessions() as session:
        [row] = (await session.scalars(select(SmsInbound))).all()
    assert (row.at_id, row.link_id, row.outcome) == ("15071", "L1", "help")
