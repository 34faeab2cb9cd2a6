"""The books against Airtel Money's through its sandbox, one enquiry per reference (Airtel's Open API lists no
transactions): a Kenyan day of counted votes, a refund and a payout by disbursement agrees; a vote our books counted
that Airtel's enquiry says failed is found, audited once, and `gateway reconcile money --provider airtel` lists it
(exit 3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.starting import start_payment
from gateway.core.money_out import payouts
from gateway.core.money_out.money_reconciliation import reconcile_money
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.money_out.refunds import request_refund
from gateway.core.money_out.refunds_sent import refunds_pass
from gateway.core.orders import counting
from gateway.core.providers import PaymentProvider, PaymentState
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, Payout, PayoutState, Refund, RefundState, VoteOrder
from payments.registry import ProviderRegistry
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.commands import command_env, gateway
from tests.factories import make_contest, place
from tests.payments import poll

OWNER, APPROVER = Actor(None, "ada@example.org", "owner"), Actor(None, "bea@example.org", "owner")
DISAGREEING = "+254733000457"  # the sandbox's number whose payment Airtel's enquiry says failed (a reversal)


class Airtel:
    def __init__(self, registry: ProviderRegistry, url: str, contest: Contest) -> None:
        self.registry, self.url, self.contest = registry, url, contest


@pytest.fixture
async def airtel(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Airtel]:
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox:
        url = str(sandbox.make_url("")).rstrip("/")
        async with httpx.AsyncClient(timeout=5) as http:
            registry = build_providers(settings.model_copy(update={"sandbox_url": url}), http)
            contest = await make_contest(sessions, currency="KES", price_per_vote=1000, providers=["airtel"])
            yield Airtel(registry, url, contest)
            await registry.aclose()


async def no_pace(provider: PaymentProvider) -> None:
    return None


async def counted(sessions: Sessions, airtel: Airtel, msisdn: str, quantity: int, *,
                  wait: bool = True) -> VoteOrder:
    """A vote pushed to the wallet and counted in our books (once Airtel's enquiry decided it, with `wait`; else
    on a callback's word at once)."""
    order = await place(sessions, airtel.contest, quantity=quantity, provider="airtel", msisdn=msisdn)
    await start_payment(sessions, airtel.registry, order.id)
    async with sessions() as session:
        loaded = await load_collection(session, order.id)
    assert loaded is not None
    txn = "MP-CALLBACK"
    if wait:
        status = await poll(lambda: airtel.registry.get("airtel").fetch_status(loaded[1]),
                            lambda s: s.state is not PaymentState.PENDING)
        txn = status.provider_txn_id or txn
    await counting.confirm_payment(sessions, order.id, "TS", order.amount, order.currency, txn, provider="airtel")
    return order


async def a_day_of_money(sessions: Sessions, airtel: Airtel) -> None:
    """Two votes paid and counted, one refunded since by a disbursement, and a payout to the organiser's wallet."""
    await counted(sessions, airtel, "+254733000001", 10)
    refunded = await counted(sessions, airtel, "+254733000002", 2)
    await request_refund(sessions, airtel.registry, refunded.id, "owner@example.org", reason="asked")
    await payouts.set_account(sessions, OWNER, airtel.contest.id, payouts.AccountDraft(
        "airtel", "Achieng", msisdn="+254733000123", proven=True))
    payout = await payouts.request_payout(sessions, OWNER, airtel.contest.id, "KES", 5000)
    await payouts.approve_payout(sessions, airtel.registry, APPROVER, airtel.contest.id, payout.id)
    now = datetime.now(UTC)
    for step in range(40):  # the worker's passes, 30 s apart, until both are decided (the sandbox's own delay)
        await refunds_pass(sessions, airtel.registry, now + timedelta(seconds=30 * step))
        await payouts_pass(sessions, airtel.registry, now + timedelta(seconds=30 * step))
        async with sessions() as session:
            states = (list(await session.scalars(select(Refund.state))),
                      list(await session.scalars(select(Payout.state))))
        if states == ([RefundState.SUCCEEDED], [PayoutState.SUCCEEDED]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the refund and the payout were not settled: {states}")


async def test_the_day_agrees_then_a_vote_airtel_says_failed_is_found_and_audited_once(
        sessions: Sessions, airtel: Airtel) -> None:
    await a_day_of_money(sessions, airtel)
    today = datetime.now(UTC).date()
    report = await reconcile_money(sessions, airtel.registry, "airtel", today, no_pace)
    assert (report.checked, report.differences, report.unread) == (4, [], 0)  # 2 payments, the refund, the payout
    disputed = await counted(sessions, airtel, DISAGREEING, 3, wait=False)
    await asyncio.sleep(0.2)  # decided at the sandbox: its enquiry now says TF
    for _ in range(2):
        report = await reconcile_money(sessions, airtel.registry, "airtel", today, no_pace)
        [gap] = report.differences
        assert (gap.what, gap.entry.key, gap.entry.amount, gap.word.status) == (
            "missing_at_provider", disputed.id, 3000, "TF")
    async with sessions() as session:
        audited = list(await session.scalars(select(AuditEntry.details["line"].astext).where(
            AuditEntry.action == "money.difference", AuditEntry.target == f"money:airtel:{today.isoformat()}")))
    assert len(audited) == 1 and "missing_at_provider" in audited[0] and "30.00 KES" in audited[0]


async def test_gateway_reconcile_money_lists_airtels_difference(sessions: Sessions, airtel: Airtel,
                                                                settings: Settings) -> None:
    await a_day_of_money(sessions, airtel)
    env = command_env(settings, SANDBOX_URL=airtel.url)
    command = ["reconcile", "money", "--provider", "airtel"]
    agreed = await asyncio.to_thread(gateway, *command, env=env)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert f"airtel {datetime.now(UTC).date().isoformat()}: 4 checked, no difference" in agreed.stdout
    await counted(sessions, airtel, DISAGREEING, 1, wait=False)
    await asyncio.sleep(0.2)
    found = await asyncio.to_thread(gateway, *command, env=env)
    assert found.returncode == 3, found.stdout + found.stderr
    assert "missing_at_provider: payment" in found.stdout and "5 checked, 1 difference(s)" in found.stdout
