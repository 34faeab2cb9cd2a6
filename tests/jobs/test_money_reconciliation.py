"""The books against MTN's records through the sandbox: a day of payments, a refund and a payout agrees; an edit of
one transaction in the sandbox (an amount, a status) is reported exactly, once in the audit log however often the
day is read; `gateway reconcile money` says so, and exits 3 when it lists a difference."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from assembly.providers import build_providers
from assembly.settings import Settings
from gateway.core import payouts
from gateway.core.audit import Actor
from gateway.core.money_check import BookEntry, ProviderWord, difference, recent_differences
from gateway.core.orders import closing, counting, tables
from gateway.core.payments.collections import load_collection
from gateway.core.payments.payouts_sent import payouts_pass
from gateway.core.payments.starting import start_payment
from gateway.core.providers import PaymentProvider, PaymentState
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, PayoutAccountKind, VoteOrder
from gateway.jobs.money_reconciliation import reconcile_money
from payments.registry import ProviderRegistry
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import make_contest, place
from tests.payments import poll

OWNER, APPROVER = Actor(None, "ada@example.org", "owner"), Actor(None, "bea@example.org", "owner")


@dataclass
class Mtn:
    registry: ProviderRegistry
    contest: Contest
    sandbox: TestServer
    url: str


@pytest.fixture
async def mtn(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Mtn]:
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox:
        url = str(sandbox.make_url("")).rstrip("/")
        async with httpx.AsyncClient(timeout=5) as http:
            registry = build_providers(settings.model_copy(update={"sandbox_url": url}), http)
            yield Mtn(registry, await make_contest(sessions), sandbox, url)
            await registry.aclose()


async def no_pace(provider: PaymentProvider) -> None:
    return None


async def paid(sessions: Sessions, mtn: Mtn, quantity: int) -> tuple[VoteOrder, str]:
    """A vote paid at MTN's sandbox and counted; and its reference there."""
    order = await place(sessions, mtn.contest, quantity=quantity)
    await start_payment(sessions, mtn.registry, order.id)
    async with sessions() as session:
        loaded = await load_collection(session, order.id)
    assert loaded is not None
    status = await poll(lambda: mtn.registry.get("mtn").fetch_status(loaded[1]),
                        lambda s: s.state is not PaymentState.PENDING)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency,
                                   status.provider_txn_id, provider="mtn")
    return await tables.get_order(sessions, order.id), str(loaded[1].reference)


async def a_day_of_money(sessions: Sessions, mtn: Mtn) -> tuple[str, str]:
    """Two paid votes, one abandoned order, and a payout that went through; the references of a payment and of
    the abandoned one."""
    _, first = await paid(sessions, mtn, 10)
    await paid(sessions, mtn, 3)
    abandoned = await place(sessions, mtn.contest, quantity=2, msisdn="+237670000453")  # never approved at MTN
    await start_payment(sessions, mtn.registry, abandoned.id)
    await closing.expire_order(sessions, abandoned.id)
    async with sessions() as session:
        loaded = await load_collection(session, abandoned.id)
    assert loaded is not None
    await payouts.set_account(sessions, OWNER, mtn.contest.id, payouts.AccountDraft(
        PayoutAccountKind.MTN, "Ada", msisdn="+237670000123", proven=True))
    payout = await payouts.request_payout(sessions, OWNER, mtn.contest.id, "XAF", 500)
    await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.id)
    now = datetime.now(UTC)
    for step in range(4):
        await payouts_pass(sessions, mtn.registry, now + timedelta(seconds=30 * step))
        await asyncio.sleep(0.1)
    return first, str(loaded[1].reference)


async def edit(mtn: Mtn, reference: str, **change: str) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{mtn.url}/mtn/_control/transactions/{reference}", json=change)
    assert answer.status_code == 200, answer.text


async def test_the_books_agree_then_an_edited_amount_is_reported_once(sessions: Sessions, mtn: Mtn) -> None:
    first, _ = await a_day_of_money(sessions, mtn)
    today = datetime.now(UTC).date()
    report = await reconcile_money(sessions, mtn.registry, "mtn", today, no_pace)
    assert (report.checked, report.differences, report.unread) == (4, [], 0)  # 3 orders and the payout
    await edit(mtn, first, amount="900")  # MTN's records now say 900 of the 1,000 XAF
    for _ in range(2):
        report = await reconcile_money(sessions, mtn.registry, "mtn", today, no_pace)
        [gap] = report.differences
        assert gap.what == "amount" and gap.entry.amount == 1000 and gap.word.amount == 900
    async with sessions() as session:
        audited = list(await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "money.difference")))
        shown = await recent_differences(session)  # what an owner reads on a settlement page
    assert len(audited) == 1 and "books 1000 XAF moved; provider SUCCESSFUL 900 XAF" in audited[0]["line"]
    assert [(target, line) for _, target, line in shown] == [(f"money:mtn:{today.isoformat()}", audited[0]["line"])]


async def test_a_payment_mtn_took_after_we_gave_up_is_missing_in_the_books(sessions: Sessions, mtn: Mtn) -> None:
    _, abandoned = await a_day_of_money(sessions, mtn)
    await edit(mtn, abandoned, status="SUCCESSFUL")
    report = await reconcile_money(sessions, mtn.registry, "mtn", datetime.now(UTC).date(), no_pace)
    assert [(gap.what, gap.entry.kind, gap.entry.amount) for gap in report.differences] == [
        ("missing_in_books", "payment", 200)]


async def test_gateway_reconcile_money_lists_the_difference(sessions: Sessions, mtn: Mtn, settings: Settings) -> None:
    first, _ = await a_day_of_money(sessions, mtn)
    env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
           "LOG_JSON": "false", "SANDBOX_URL": mtn.url}
    command = [sys.executable, "-m", "assembly.cli", "reconcile", "money"]  # every provider set up
    agreed = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)
    assert agreed.returncode == 0, agreed.stderr
    assert f"mtn {datetime.now(UTC).date().isoformat()}: 4 checked, no difference" in agreed.stdout
    assert "orange" in agreed.stdout  # its push and its payment page: none of its payments today
    command += ["--provider", "mtn"]
    await edit(mtn, first, status="FAILED")
    found = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)
    assert found.returncode == 3, found.stderr
    assert "missing_at_provider: payment" in found.stdout and "1 difference(s)" in found.stdout


def test_what_counts_as_a_difference() -> None:
    moved = BookEntry("payment", uuid.uuid4(), True, 1000, "XAF")
    unmoved = BookEntry("payment", moved.key, False, 1000, "XAF")
    assert difference(moved, ProviderWord(True, True, 1000, "xaf")) is None
    assert difference(unmoved, ProviderWord(True, False, None, None, "FAILED")) is None
    assert difference(unmoved, ProviderWord(False, False)) is None  # never reached MTN, never paid
    assert (gap := difference(moved, ProviderWord(False, False))) is not None and gap.what == "missing_at_provider"
    assert (gap := difference(moved, ProviderWord(True, True, 1000, "EUR"))) is not None and gap.what == "amount"
    assert (gap := difference(unmoved, ProviderWord(True, True, 1000, "XAF"))) is not None
    assert gap.what == "missing_in_books"
