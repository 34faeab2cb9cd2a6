"""A day of money at MTN's sandbox for the money checks: two paid votes, an abandoned order and a payout; and an
edit of one of its transactions, as if MTN's records changed after the fact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp.test_utils import TestServer

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.starting import start_payment
from gateway.core.money_out import payouts
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.orders import closing, counting, tables
from gateway.core.providers import PaymentProvider, PaymentState
from gateway.db.engine import Sessions
from gateway.db.models import Contest, VoteOrder
from gateway.kit.outbound_tls import verified_tls
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
    control: SandboxControl


@pytest.fixture
async def mtn(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Mtn]:
    control = SandboxControl(success_delay=0.05)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        url = str(sandbox.make_url("")).rstrip("/")
        async with httpx.AsyncClient(timeout=5, verify=verified_tls()) as http:
            registry = build_providers(settings.model_copy(update={"sandbox_url": url}), http)
            yield Mtn(registry, await make_contest(sessions), sandbox, url, control)
            await registry.aclose()


async def no_pace(provider: PaymentProvider) -> None:
    return None


async def paid_at_mtn(sessions: Sessions, mtn: Mtn, quantity: int) -> tuple[VoteOrder, str, str | None]:
    """A vote MTN's sandbox took the money of, its word not yet in our books; its reference and MTN's id."""
    order = await place(sessions, mtn.contest, quantity=quantity)
    await start_payment(sessions, mtn.registry, order.id)
    async with sessions() as session:
        loaded = await load_collection(session, order.id)
    assert loaded is not None
    status = await poll(lambda: mtn.registry.get("mtn").fetch_status(loaded[1]),
                        lambda s: s.state is not PaymentState.PENDING)
    return order, str(loaded[1].reference), status.provider_txn_id


async def paid(sessions: Sessions, mtn: Mtn, quantity: int) -> tuple[VoteOrder, str]:
    """A vote paid at MTN's sandbox and counted; and its reference there."""
    order, reference, txn_id = await paid_at_mtn(sessions, mtn, quantity)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, txn_id,
                                   provider="mtn")
    return await tables.get_order(sessions, order.id), reference


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
        "mtn", "Ada", msisdn="+237670000123", proven=True))
    payout = await payouts.request_payout(sessions, OWNER, mtn.contest.id, "XAF", 500)
    await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    now = datetime.now(UTC)
    for step in range(4):
        await payouts_pass(sessions, mtn.registry, now + timedelta(seconds=30 * step))
        await asyncio.sleep(0.1)
    return first, str(loaded[1].reference)


async def edit(mtn: Mtn, reference: str, **change: str) -> None:
    async with httpx.AsyncClient(verify=verified_tls()) as http:
        answer = await http.post(f"{mtn.url}/mtn/_control/transactions/{reference}", json=change)
    assert answer.status_code == 200, answer.text
