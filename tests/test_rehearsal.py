"""`gateway rehearse` against an installation the test starts (the app and the payment sandbox on loopback
ports of the suite's own): a tiny peak for a few seconds, through every channel the app takes, viewers on the
board, and a verdict printed with its figures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from assembly.app import create_app
from assembly.demo import seed_demo
from assembly.rehearsal.load import Voter
from assembly.rehearsal.run import Plan, refuse_remote, rehearse
from assembly.settings import Settings
from channels.sms.fake_at import create_fake_at_app
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, VoteOrder
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import assert_tally_invariant, tallies
from tests.servers import free_port


@pytest.fixture
async def installation(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[tuple[str, Contest]]:
    """The app, the payment sandbox, AT's fake and a worker (SMS are handled there), as `gateway run` has them."""
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox, \
            TestServer(create_fake_at_app()) as at:
        port = free_port()
        urls = {"public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/"),
                "at_fake_url": str(at.make_url("")).rstrip("/")}
        async with TestServer(create_app(settings.model_copy(update=urls)), port=port) as server:
            contest = await seed_demo(sessions)
            async with sessions.begin() as session:  # one vote per number anyway; the day's limit is not the test's
                await session.execute(update(Contest).values(max_orders_per_minute=0, max_orders_per_day=0))
            env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
                   "GATEWAY_DATA_DIR": str(settings.gateway_data_dir), "LOG_JSON": "false",
                   **{name.upper(): value for name, value in urls.items()}}
            worker = subprocess.Popen([sys.executable, "-m", "assembly.cli", "worker", "--no-cron"], env=env,
                                      start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                yield str(server.make_url("")).rstrip("/"), contest
            finally:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)


async def test_a_short_rehearsal_counts_every_paid_vote_once_and_prints_its_verdict(
    installation: tuple[str, Contest], sessions: Sessions
) -> None:
    url, contest = installation
    before = sum((await tallies(sessions, contest.id)).values())
    voter = Voter(url, contest.slug, ussd_token=None, sms_token=None, short_code="20123")
    checks, printed = await rehearse(Plan(voter, peak=2, seconds=3, viewers=2), sessions)
    print(printed)
    async with sessions() as session:
        orders = list(await session.scalars(select(VoteOrder).where(VoteOrder.contest_id == contest.id)))
    paid = [order for order in orders if order.status is OrderStatus.PAID]
    assert len(paid) >= 8  # 3 votes/s for 3 s, each channel a third
    assert sum((await tallies(sessions, contest.id)).values()) - before == sum(o.quantity for o in paid)
    await assert_tally_invariant(sessions, contest.id)
    assert f"{len(paid)} paid, tallies moved by {len(paid)}" in printed
    assert "votes counted within 2 s of payment:" in printed and "p99" in printed
    assert "board frames within 1 s" in printed and "machine:" in printed
    assert printed.splitlines()[-1] in ("verdict: GO", "verdict: NO-GO")
    assert {order.channel for order in paid} == {"web", "ussd", "sms"}
    assert f"{len(paid)} orders for {len(paid)} votes taken in" in printed


def test_a_rehearsal_refuses_a_host_that_is_not_this_machine() -> None:
    for url in ("http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"):
        refuse_remote(url, allow_remote=False)
    with pytest.raises(ValueError, match="not this machine"):
        refuse_remote("https://vote.example.org", allow_remote=False)
    refuse_remote("https://vote.example.org", allow_remote=True)


def test_the_command_refuses_a_remote_installation_before_sending_anything() -> None:
    result = subprocess.run([sys.executable, "-m", "assembly.cli", "rehearse", "--url", "https://vote.example.org",
                             "--peak", "200", "--minutes", "10"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "'vote.example.org' is not this machine" in result.stderr
    assert result.stdout == ""
    too_long = subprocess.run([sys.executable, "-m", "assembly.cli", "rehearse", "--peak", "1", "--minutes", "600"],
                              capture_output=True, text=True, timeout=60)
    assert too_long.returncode == 2 and "at most 60" in too_long.stderr
