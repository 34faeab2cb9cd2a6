"""`gateway rehearse` against an installation the test starts (the app and the payment sandbox on loopback
ports of the suite's own): a tiny peak for a few seconds, through every channel the app takes, viewers on the
board, and a verdict printed with its figures."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from assembly.machine.demo import seed_demo
from assembly.operations.rehearsal import readings
from assembly.operations.rehearsal.load import Told, Traffic, Voter, cast
from assembly.operations.rehearsal.outcomes import fates
from assembly.operations.rehearsal.run import Plan, refuse_remote, rehearse
from assembly.settings import Settings
from assembly.web.app import create_app
from channels.sms.fake_at import create_fake_at_app
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, Tally, VoteOrder
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.commands import command_env, gateway
from tests.factories import assert_tally_invariant, tallies
from tests.servers import free_port


@dataclass(frozen=True)
class Installation:
    url: str
    contest: Contest
    env: dict[str, str]  # what a worker of this installation is started with


@pytest.fixture
async def web_only(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Installation]:
    """The app, the payment sandbox and AT's fake, with no worker: kept SMS wait, as behind a worker far behind."""
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox, \
            TestServer(create_fake_at_app()) as at:
        port = free_port()
        urls = {"public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/"),
                "at_fake_url": str(at.make_url("")).rstrip("/")}
        async with TestServer(create_app(settings.model_copy(update=urls)), port=port) as server:
            contest = await seed_demo(sessions)
            async with sessions.begin() as session:  # one vote per number anyway; the day's limit is not the test's
                await session.execute(update(Contest).values(max_orders_per_minute=0, max_orders_per_day=0))
            env = command_env(settings, GATEWAY_DATA_DIR=str(settings.gateway_data_dir),
                              **{name.upper(): value for name, value in urls.items()})
            yield Installation(str(server.make_url("")).rstrip("/"), contest, env)


@pytest.fixture
async def installation(web_only: Installation) -> AsyncIterator[Installation]:
    """And a worker (SMS are handled there), as `gateway run` has them."""
    worker = subprocess.Popen([sys.executable, "-m", "assembly.cli", "worker", "--no-cron"], env=web_only.env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield web_only
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


async def test_a_short_rehearsal_counts_every_paid_vote_once_and_prints_its_verdict(
    installation: Installation, sessions: Sessions
) -> None:
    contest = installation.contest
    before = sum((await tallies(sessions, contest.id)).values())
    voter = Voter(installation.url, contest.slug, ussd_token=None, sms_token=None, short_code="20123")
    checks, printed = await rehearse(Plan(voter, peak=2, seconds=3, viewers=2), sessions)
    print(printed)
    async with sessions() as session:
        orders = list(await session.scalars(select(VoteOrder).where(VoteOrder.contest_id == contest.id)))
    paid = [order for order in orders if order.status is OrderStatus.PAID]
    # 3 votes/s for 3 s, each channel a third: as many as the machine offered (a loaded one offers fewer, late
    # turns are not made up), each channel's at least once; the lines below tie the paid to the placed.
    assert len(paid) >= 3
    assert sum((await tallies(sessions, contest.id)).values()) - before == sum(o.quantity for o in paid)
    await assert_tally_invariant(sessions, contest.id)
    votes = sum(order.quantity for order in paid)
    assert f"GO     every paid vote counted once: {len(paid)} paid orders, {votes} votes; the ledger counts {votes} " \
           f"for the rehearsal's orders; tallies moved by {votes}" in printed
    assert "GO     the ledger verifies (gateway ledger verify): ok, " in printed
    assert "GO     every vote decided once the traffic stopped: settled within" in printed
    assert "votes counted within 2 s of payment:" in printed and "p99" in printed
    assert "board frames within 1 s" in printed and "machine:" in printed
    assert printed.splitlines()[-1] in ("verdict: GO", "verdict: NO-GO")
    assert {order.channel for order in paid} == {"web", "ussd", "sms"}
    assert f"GO     every vote told it was placed has its order: {len(paid)} of {len(paid)} (sms " in printed
    # The CPU each channel spent, read on the installation's /metrics; its processes are this one, not read apart.
    assert "\n  by process: not read, the installation serves from this process\n" in printed
    assert re.search(r"\n  by part \(share of the CPU measured by part; CPU a vote offered on the channel\): "
                     r"web [\d.]+ s \(\d+%; [\d.]+ ms a vote\), ussd [\d.]+ s \(\d+%; [\d.]+ ms a vote\), "
                     r"sms [\d.]+ s \(\d+%; [\d.]+ ms a vote\); shared: payments ", printed), printed


def test_a_rehearsal_refuses_a_host_that_is_not_this_machine() -> None:
    for url in ("http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"):
        refuse_remote(url, allow_remote=False)
    with pytest.raises(ValueError, match="not this machine"):
        refuse_remote("https://vote.example.org", allow_remote=False)
    refuse_remote("https://vote.example.org", allow_remote=True)


def test_the_command_refuses_a_remote_installation_before_sending_anything() -> None:
    result = gateway("rehearse", "--url", "https://vote.example.org", "--peak", "200", "--minutes", "10",
                     env=dict(os.environ))
    assert result.returncode == 2 and "'vote.example.org' is not this machine" in result.stderr
    assert result.stdout == ""
    too_long = gateway("rehearse", "--peak", "1", "--minutes", "600", env=dict(os.environ))
    assert too_long.returncode == 2 and "at most 60" in too_long.stderr


async def test_a_ussd_vote_refused_on_its_last_screen_is_a_refusal_not_a_vote_taken_in(
    web_only: Installation, sessions: Sessions
) -> None:
    """A refusal's last screen begins with END as a placed vote's does: taken for a vote taken in, it was counted
    as a vote that placed no order."""
    async with sessions.begin() as session:
        await session.execute(update(Contest).values(max_orders_per_minute=1))
    began = await readings.start(sessions, web_only.contest.slug)
    assert began is not None
    voter = Voter(web_only.url, web_only.contest.slug, ussd_token=None, sms_token=None, short_code="20123")
    traffic = Traffic()
    async with aiohttp.ClientSession() as http:
        for _ in range(2):  # one number twice within a minute: the second is over the contest's limit
            await cast(http, voter, "ussd", 1_000_000, traffic)
    placed, refused = traffic.votes
    end = await readings.end(sessions, traffic.votes, began)
    assert [order.reference for order in end.orders] == [placed.said]
    assert placed.told is Told.PLACED and refused.told is Told.REFUSED and refused.said.startswith("END ")
    found = fates(traffic.votes, end.orders, end.sms)
    assert (found.found, found.lost, dict(found.refused)) == (1, [], {f"ussd: {refused.said}": 1})


async def test_sms_a_worker_has_not_answered_yet_are_votes_undecided_not_votes_lost(
    web_only: Installation, sessions: Sessions
) -> None:
    """With no worker handling SMS, they are kept and wait: the rehearsal says so, and loses none of them."""
    voter = Voter(web_only.url, web_only.contest.slug, ussd_token=None, sms_token=None, short_code="20123")
    # 3 votes a second for 1.9 s: 6 votes, 2 on each channel
    # The wait runs its whole length (no worker answers the SMS): long enough for a loaded machine to decide the rest.
    checks, printed = await rehearse(Plan(voter, peak=2, seconds=1.9, viewers=1, settle_seconds=5), sessions)
    print(printed)
    assert "\nGO     every vote told it was placed has its order: 4 of 4 (ussd 2, web 2)" in printed
    assert re.search(r"\nNO-GO  every vote decided once the traffic stopped: after waiting \d+ s: 0 orders pending, "
                     r"2 SMS not answered\n", printed), printed
    assert printed.endswith("verdict: NO-GO")


async def test_a_rehearsal_ends_by_verifying_the_ledger(web_only: Installation, sessions: Sessions) -> None:
    """A tally moved by no ledger entry (as a vote counted twice would move it) is found and named."""
    contest = web_only.contest
    async with sessions.begin() as session:
        await session.execute(update(Tally).where(Tally.contest_id == contest.id).values(votes=Tally.votes + 5))
    voter = Voter(web_only.url, contest.slug, ussd_token=None, sms_token=None, short_code="20123")
    checks, printed = await rehearse(Plan(voter, peak=2, seconds=2, viewers=1, settle_seconds=2), sessions)
    line = next(line for line in printed.splitlines() if "the ledger verifies" in line)
    assert line.startswith("NO-GO  the ledger verifies (gateway ledger verify): BROKEN: candidate ")
    assert "the tallies table" in line
