"""`gateway ussd`: the terminal phone, against a live server of the app (and, once, the whole way to a
paid vote through the RQ worker and the local MTN sandbox)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from assembly.machine.demo import seed_demo
from assembly.settings import Settings
from assembly.web.app import create_app
from channels.ussd import simulator
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from gateway.kit.keys import CHECKS
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import assert_tally_invariant, tallies
from tests.servers import free_port
from tests.waiting import HANG_SECONDS

HOME = "Demo Star 2026\n1 Voter\n2 Top 5\n3 Mes votes\n4 Langue/Language/Lugha"


def args(url: str, script: str | None = None, msisdn: str = "+237670000001") -> argparse.Namespace:
    return argparse.Namespace(url=url, service_code="*384*123#", msisdn=msisdn, script=script)


async def run(namespace: argparse.Namespace, answers: list[str] | None = None) -> tuple[int, str]:
    """The simulator is a blocking program: run it in a thread while this loop serves the app."""
    out = io.StringIO()
    typed: Iterator[str] = iter(answers or [])

    def prompt(_: str) -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    code = await asyncio.to_thread(simulator.main, namespace, out, prompt)
    return code, out.getvalue()


def base_url(client: TestClient) -> str:
    return str(client.make_url("")).rstrip("/")


async def orders(sessions: Sessions) -> list[VoteOrder]:
    async with sessions() as session:
        return list(await session.scalars(select(VoteOrder)))


async def test_script_mode_prints_every_screen(client: TestClient, sessions: Sessions) -> None:
    await seed_demo(sessions)
    code, printed = await run(args(base_url(client), "1*07*5*1*1"))
    assert code == 0, printed
    [order] = await orders(sessions)
    screens = printed.split(simulator.RULE + "\n")[1:]
    assert [s.rsplit("\n" + simulator.RULE + " ", 1)[1].split("\n")[0] for s in screens] == ["CON"] * 5 + ["END"]
    assert screens[0].startswith(HOME)
    assert "> 07\n" in printed and "07 Grace Ndongo\nPrix: 100 FCFA/vote" in printed
    assert "1 MTN MoMo (votre réseau)" in printed and "Total: 500 FCFA" in printed
    assert f"(MTN MoMo) pour compter vos 5 votes. Ref {order.id.hex[:8].upper()}" in printed
    assert printed.startswith("dialling *384*123# from +237670000001 (session SIM-")


async def test_a_script_that_outlives_the_session_fails(client: TestClient, sessions: Sessions) -> None:
    await seed_demo(sessions)
    code, printed = await run(args(base_url(client), "1*x*x*x*1"))
    assert code == 1
    assert "Trop d'erreurs." in printed and "the session ended before the script's last 1 input(s)" in printed


async def test_a_script_that_stops_early_hangs_up(client: TestClient, sessions: Sessions) -> None:
    await seed_demo(sessions)
    code, printed = await run(args(base_url(client), "1*07"))
    assert code == 0 and printed.rstrip().endswith("(hung up)")
    assert await orders(sessions) == []


async def test_interactive_mode_reads_each_answer(client: TestClient, sessions: Sessions) -> None:
    await seed_demo(sessions)
    code, printed = await run(args(base_url(client), msisdn="+237690000001"), ["4", "2", "1", "7", "3", "2", "1"])
    assert code == 0, printed
    assert "Langue / Language / Lugha:" in printed and "Enter the candidate code:" in printed
    assert "2 Orange Money (your network)" in printed and "END Thank you!" not in printed
    assert "Thank you! Approve the payment of FCFA 300 on your phone (Orange Money)" in printed
    assert "> 4" not in printed  # a person's own typing is not echoed twice
    [order] = await orders(sessions)
    assert (order.provider, order.quantity) == ("orange", 3)


async def test_interactive_mode_hangs_up_at_end_of_input(client: TestClient, sessions: Sessions) -> None:
    await seed_demo(sessions)
    code, printed = await run(args(base_url(client)), ["1"])
    assert code == 0 and "Entrez le code du candidat:" in printed and printed.rstrip().endswith("(hung up)")


async def test_an_unknown_code_and_a_dead_service(client: TestClient, sessions: Sessions,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, printed = await run(args(base_url(client), ""))
    assert code == 0 and "Ce code ne correspond à aucun vote." in printed
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    assert (await run(args(dead, "1")))[0] == 1
    assert (await run(args(base_url(client) + "/healthz", "1")))[0] == 1  # answers, but not as USSD


def test_parse_screen() -> None:
    assert simulator.parse_screen(200, "CON a\nb") == simulator.Screen("CON", "a\nb")
    assert simulator.parse_screen(200, "END bye").ends
    with pytest.raises(simulator.DialError):
        simulator.parse_screen(200, "Hello")
    with pytest.raises(simulator.DialError):
        simulator.parse_screen(400, '{"error": {}}')


def test_default_url_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_HOST", "0.0.0.0")
    monkeypatch.setenv("GATEWAY_PORT", "9123")
    assert simulator.default_url() == "http://127.0.0.1:9123"


# The whole way: USSD hops, the queued start job run by a real worker, the sandbox's callback, the tally.


@pytest.fixture
async def live(clean: None, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox:
        port = free_port()
        urls = {"public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/")}
        for name, value in {**urls, "database_url": settings.database_url, "redis_url": settings.redis_url}.items():
            monkeypatch.setenv(name.upper(), value or "")  # what the worker process reads
        async with TestClient(TestServer(create_app(settings.model_copy(update=urls)), port=port)) as client:
            yield client


async def test_a_scripted_vote_ends_paid_and_counted(live: TestClient, sessions: Sessions) -> None:
    contest = await seed_demo(sessions)
    code, printed = await run(args(base_url(live), "1*07*5*1*1"))
    assert code == 0 and "Ref " in printed
    worker = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "assembly.cli", "worker", "--burst", "--no-cron"],
        env={**os.environ, "LOG_JSON": "false"}, capture_output=True, text=True, timeout=HANG_SECONDS)
    assert worker.returncode == 0, worker.stderr
    [order] = await orders(sessions)
    for _ in range(250):
        await live.app[CHECKS].wait_idle()
        [order] = await orders(sessions)
        if order.status is not OrderStatus.PENDING:
            break
        await asyncio.sleep(0.02)
    assert order.status is OrderStatus.PAID and order.payment_started_at is not None
    assert (await tallies(sessions, contest.id))["07"] == 5
    await assert_tally_invariant(sessions, contest.id)
