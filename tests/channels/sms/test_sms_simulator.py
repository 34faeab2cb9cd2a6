"""`gateway sms`: a phone texting a live server of the app, the whole way — the inbound form, the job run
by a real RQ worker, the reply through the local AT fake, the payment sandbox's callback, the receipt."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from assembly.machine.demo import seed_demo
from assembly.settings import Settings
from assembly.web.app import create_app
from channels.sms import simulator, texts
from channels.sms.fake_at import create_fake_at_app
from channels.sms.models import SmsInbound
from gateway.core.texts import Lang
from gateway.core.voters import payer_numbers
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, OutboxMessage, VoteOrder
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import assert_tally_invariant, tallies
from tests.servers import free_port
from tests.waiting import HANG_SECONDS


@dataclass
class Live:
    client: TestClient
    at_url: str
    worker: subprocess.Popen[bytes]
    worker_log: Path


@pytest.fixture
async def live(clean: None, settings: Settings, monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> AsyncIterator[Live]:
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox, \
            TestServer(create_fake_at_app()) as fake_at:
        port = free_port()
        urls = {"public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/"),
                "at_fake_url": str(fake_at.make_url("")).rstrip("/")}
        for name, value in {**urls, "database_url": settings.database_url, "redis_url": settings.redis_url}.items():
            monkeypatch.setenv(name.upper(), value or "")  # what the worker process reads
        # One worker for the whole exchange, started now so that its start (its imports: seconds of CPU) overlaps
        # the app's and the seeding; a burst for each of the exchange's two steps started a process for each.
        worker_log = tmp_path / "worker.log"
        with worker_log.open("wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "assembly.cli", "worker", "--no-cron"],
                                      env={**os.environ, "LOG_JSON": "false"}, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        try:
            async with TestClient(TestServer(create_app(settings.model_copy(update=urls)), port=port)) as client:
                yield Live(client, urls["at_fake_url"], worker, worker_log)
        finally:
            with contextlib.suppress(ProcessLookupError):  # RQ's scheduler, started by the worker, goes with it
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


async def stop_worker(live: Live) -> None:
    """The worker stopped as `gateway run` stops it (SIGTERM), having ended well."""
    live.worker.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(live.worker.wait, HANG_SECONDS)
    assert code == 0, live.worker_log.read_text()


async def until(check: object, sessions: Sessions, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with sessions() as session:
            if await session.scalar(check):  # type: ignore[call-overload]
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s: {check}")


async def texts_and_settle(live: Live, sessions: Sessions, texts: list[tuple[str, str, OrderStatus | None]]
                           ) -> list[tuple[int, str]]:
    """Phones texting at once (sender, message, how its order ends: None when it places none), served by the same
    worker: what each phone printed, and its exit code."""
    url = str(live.client.make_url("")).rstrip("/")
    # A phone's wait spans the worker's start (minutes on a loaded machine), so only a hang reaches it; when its
    # exchange ends, the phone stops at once.
    outs = [io.StringIO() for _ in texts]
    phones = [asyncio.create_task(asyncio.to_thread(simulator.main, argparse.Namespace(
        text=message, sender=sender, to="20123", url=url, at_url=live.at_url, wait=HANG_SECONDS), out))
        for (sender, message, _), out in zip(texts, outs, strict=True)]
    await until(select(func.count(SmsInbound.id) >= len(texts)), sessions)
    # The inbound jobs (the replies, then the payment prompts) wait for the worker's start.
    for sender, _, decided in texts:
        if decided is None:
            continue
        await until(select(VoteOrder.id).where(VoteOrder.voter_msisdn == sender, VoteOrder.status == decided),
                    sessions, HANG_SECONDS)
    # Each order's receipt note is written with its status: every one handed to the queue, for the worker.
    handed = func.count(OutboxMessage.enqueued_at)
    orders = sum(decided is not None for _, _, decided in texts)
    await until(select((handed >= orders) & (handed == func.count(OutboxMessage.id)))
                .where(OutboxMessage.topic.like("order.%")), sessions)
    codes = [await asyncio.wait_for(phone, 60) for phone in phones]  # the receipts
    await stop_worker(live)
    return [(code, out.getvalue()) for code, out in zip(codes, outs, strict=True)]


async def test_a_vote_by_sms_shows_the_prompt_then_the_confirmation_and_a_rejecting_number_the_rejection(
        live: Live, sessions: Sessions) -> None:
    """Two phones through the same worker (its start: seconds of CPU)."""
    contest = await seed_demo(sessions)
    (code, printed), (rejected_code, rejected) = await texts_and_settle(live, sessions, [
        ("+237670000001", "VOTE 07 3", OrderStatus.PAID), ("+237670000451", "vote 7", OrderStatus.FAILED)])
    assert code == 0, printed
    async with sessions() as session:
        order = await session.scalar(select(VoteOrder).where(VoteOrder.voter_msisdn == "+237670000001"))
    assert order is not None
    ref = order.id.hex[:8].upper()
    assert printed.splitlines() == [
        "+237670000001 -> 20123: VOTE 07 3",
        f"20123 -> +237670000001: Validez 300 FCFA sur votre téléphone pour 3 votes pour 07 Grace Ndongo. Ref {ref}",
        f"20123 -> +237670000001: Merci! 3 votes pour 07 Grace Ndongo comptés. Ref {ref}",
    ]
    assert (await tallies(sessions, contest.id))["07"] == 3
    await assert_tally_invariant(sessions, contest.id)
    assert rejected_code == 0, rejected
    assert "Paiement échoué, 1 vote pour 07 Grace Ndongo non compté: Le paiement a été refusé sur le téléphone." \
        in rejected


async def test_a_vote_in_swahili_shows_its_receipt_too(live: Live, sessions: Sessions) -> None:
    """The end of an exchange is the service's word (its order decided, its receipt sent), not a word of its texts:
    a Swahili voter's messages say "Kumb", not "Ref", and the receipt is printed all the same."""
    await seed_demo(sessions)
    for number in ("+237670000002", "+237670000003"):
        await payer_numbers.remember_language(sessions, number, Lang.SW)
    (code, printed), (help_code, helped) = await texts_and_settle(live, sessions, [
        ("+237670000002", "VOTE 07 2", OrderStatus.PAID), ("+237670000003", "MSAADA", None)])
    async with sessions() as session:
        order = await session.scalar(select(VoteOrder).where(VoteOrder.voter_msisdn == "+237670000002"))
    assert order is not None
    ref = order.id.hex[:8].upper()
    assert code == 0, printed
    assert printed.splitlines() == [
        "+237670000002 -> 20123: VOTE 07 2",
        "20123 -> +237670000002: " + texts.prompt(Lang.SW, order.amount, "XAF", 2, "07", "Grace Ndongo", ref),
        "20123 -> +237670000002: " + texts.receipt_text(Lang.SW, "paid", 2, "07", "Grace Ndongo", ref),
    ]
    assert printed.splitlines()[-1].startswith("20123 -> +237670000002: Asante! Kura 2 za 07") \
        and printed.endswith(f"Kumb {ref}\n")
    assert help_code == 0, helped
    assert helped.splitlines() == ["+237670000003 -> 20123: MSAADA",
                                   "20123 -> +237670000003: " + texts.usage(Lang.SW, "VOTE", "20123")]
