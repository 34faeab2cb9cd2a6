"""What the `gateway` processes write on stderr: JSON for machines, one short line each for a developer
at a terminal, and no line per job from the worker at INFO (periodic jobs every 5 and 10 s flooded `make run`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pty
import re
import subprocess
import sys

import pytest
from redis.asyncio import Redis

from assembly.logs import request_id, stderr_handler
from assembly.settings import Settings
from gateway.core.worker_passes import enqueue_pass
from gateway.jobs.queues import job_queue, sync_redis
from tests.waiting import HANG_SECONDS

SHORT_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO |WARNING|ERROR|CRITICAL) [\w.]+: \S")


def worker_env(settings: Settings, **changes: str) -> dict[str, str]:
    """A worker's environment as a developer's shell gives it: no LOG_JSON, no GATEWAY_ENV, no LOG_LEVEL."""
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_JSON", "GATEWAY_ENV", "LOG_LEVEL")}
    return {**env, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "", **changes}


def enqueue_relay(settings: Settings, job_id: str) -> None:
    enqueue_pass(job_queue(sync_redis(settings.redis_url or "")), "relay-outbox", job_id=job_id)


WORKER = [sys.executable, "-m", "assembly.cli", "worker", "--burst", "--no-cron"]


def worker_through_pipes(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(WORKER, env=env, capture_output=True, text=True, timeout=HANG_SECONDS)
    assert result.returncode == 0, result.stderr
    return result


def worker_on_a_terminal(env: dict[str, str], command: list[str] = WORKER) -> list[str]:
    """The worker (or `command`) with its stderr on a pseudo-terminal, as in a person's shell; the lines it wrote
    there."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the worker has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=HANG_SECONDS) == 0, b"".join(chunks).decode()
    return b"".join(chunks).decode().replace("\r\n", "\n").splitlines()


async def test_the_worker_writes_no_line_per_job_at_info(redis: Redis, settings: Settings) -> None:
    enqueue_relay(settings, "relay-at-info")
    result = await asyncio.to_thread(worker_through_pipes, worker_env(settings))
    assert await redis.hget("rq:job:relay-at-info", "status") == b"finished"
    records = [json.loads(line) for line in result.stderr.splitlines()]  # off a terminal: JSON, every line
    assert result.stdout == ""  # RQ's own handler (on stdout, in its own format) is not there
    assert any("started with PID" in record["message"] for record in records)  # the worker's start is still told
    assert [record for record in records if "relay-at-info" in record["message"]] == []

    enqueue_relay(settings, "relay-at-debug")
    result = await asyncio.to_thread(worker_through_pipes, worker_env(settings, LOG_LEVEL="DEBUG"))
    about_the_job = [json.loads(line) for line in result.stderr.splitlines() if "relay-at-debug" in line]
    assert about_the_job and {record["level"] for record in about_the_job} == {"DEBUG"}


@pytest.mark.parametrize(("changes", "short"), [
    ({}, True),  # development on a terminal
    ({"LOG_JSON": "true"}, False),  # asked for
    ({"GATEWAY_ENV": "production", "SECRET_KEY": "s" * 40}, False),
])
async def test_on_a_terminal_development_gets_short_lines_and_json_otherwise(
    redis: Redis, settings: Settings, changes: dict[str, str], short: bool
) -> None:
    lines = await asyncio.to_thread(worker_on_a_terminal, worker_env(settings, **changes))
    started = [line for line in lines if "started with PID" in line]
    assert len(started) == 1
    if short:
        assert all(SHORT_LINE.match(line) for line in lines), lines
        assert " INFO  rq.worker: Worker " in started[0]
    else:
        assert [json.loads(line)["logger"] for line in started] == ["rq.worker"]
        assert all(json.loads(line) for line in lines)


async def test_a_command_a_person_runs_in_production_writes_short_lines_beside_its_report(
    redis: Redis, settings: Settings
) -> None:
    """An operator's `gateway migrate` or `reconcile money` on a production host: its log lines are read beside what
    it prints, not collected; JSON there would bury the report."""
    env = worker_env(settings, GATEWAY_ENV="production", SECRET_KEY="s" * 40)
    lines = await asyncio.to_thread(worker_on_a_terminal, env, [sys.executable, "-m", "assembly.cli", "migrate"])
    assert lines and all(SHORT_LINE.match(line) for line in lines), lines


async def test_log_json_false_gives_short_lines_off_a_terminal_too(redis: Redis, settings: Settings) -> None:
    result = await asyncio.to_thread(worker_through_pipes, worker_env(settings, LOG_JSON="false"))
    lines = result.stderr.splitlines()
    assert lines and all(SHORT_LINE.match(line) for line in lines), lines


def test_a_short_line_drops_gateway_from_our_loggers_and_names_the_request_only_when_there_is_one() -> None:
    handler = stderr_handler(json=False)

    def line(logger: str, message: str) -> str:
        record = logging.LogRecord(logger, logging.WARNING, __file__, 1, message, None, None)
        assert handler.filter(record)
        return handler.format(record)

    short = line("gateway.core.money_in.reconciler", "no answer")
    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING core.money_in.reconciler: no answer", short)
    token = request_id.set("5f3a9c")
    try:
        served = line("channels.ussd.routes", "session ended")
    finally:
        request_id.reset(token)
    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING channels\.ussd\.routes: session ended  \[request 5f3a9c\]", served)


def test_a_request_to_the_bot_api_writes_no_line_with_the_bots_token() -> None:
    """httpx writes a line per request at INFO with its URL, and the Bot API's URLs hold the token."""
    probe = ("import httpx; from assembly.logs import setup_logging; setup_logging('INFO', json=False); "
             "httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json={'ok': True})))"
             ".post('https://api.telegram.org/bot42:SECRET-TOKEN/sendMessage', json={'chat_id': 1, 'text': 'hi'})")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "SECRET-TOKEN" not in result.stderr
