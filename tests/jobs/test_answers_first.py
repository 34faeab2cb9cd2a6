"""A worker takes the jobs a voter waits on (an SMS vote's answer and prompt) before the receipts and passes queued
ahead of them: on a machine whose cores are full, SMS votes waited a minute behind the receipts of earlier votes."""

from __future__ import annotations

import asyncio
import os

import pytest

from assembly.settings import Settings
from gateway.core.worker_passes import enqueue_pass
from gateway.jobs.queues import answers_queue, job_queue, sync_redis
from tests.jobs.test_outbox import run_worker_burst

MISSING = [2**40]  # no such message: the pass finds nothing to answer and ends at once


async def test_a_job_a_voter_waits_on_goes_before_those_queued_ahead_of_it(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    default = job_queue(sync_redis(settings.redis_url or ""))
    earlier = [enqueue_pass(default, "sms-inbound-batch", MISSING, job_id=f"receipt-like-{n}") for n in range(3)]
    waited_on = enqueue_pass(answers_queue(default), "sms-inbound-batch", MISSING, job_id="a-voter-waits")
    await asyncio.to_thread(run_worker_burst, {**os.environ, "LOG_JSON": "false"})
    for job in (*earlier, waited_on):
        job.refresh()
    assert all(job.get_status() == "finished" for job in (*earlier, waited_on))
    assert all(waited_on.started_at < job.started_at for job in earlier)
