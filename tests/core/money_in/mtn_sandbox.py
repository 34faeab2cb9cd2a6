"""MTN's sandbox (payments.sandbox) on a port of the test's own, with the providers wired to it, and votes paid there
as a callback or a status call would count them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from aiohttp.test_utils import TestServer

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.starting import start_payment
from gateway.core.orders import counting, tables
from gateway.core.providers import PaymentState
from gateway.db.engine import Sessions
from gateway.db.models import Contest, VoteOrder
from gateway.kit.outbound_tls import verified_tls
from payments.mtn.disbursement import MtnDisbursement
from payments.registry import ProviderRegistry
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import make_contest, place
from tests.payments import poll


@dataclass
class Mtn:
    registry: ProviderRegistry
    contest: Contest
    url: str  # the sandbox's

    @property
    def payouts(self) -> MtnDisbursement:
        refunder = self.registry.refunder("mtn")
        assert isinstance(refunder, MtnDisbursement)
        return refunder


@asynccontextmanager
async def mtn_sandbox(settings: Settings, sessions: Sessions) -> AsyncIterator[Mtn]:
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox:
        url = str(sandbox.make_url("")).rstrip("/")
        async with httpx.AsyncClient(timeout=5, verify=verified_tls()) as http:
            registry = build_providers(settings.model_copy(update={"sandbox_url": url}), http)
            yield Mtn(registry, await make_contest(sessions), url)
            await registry.aclose()


async def paid(sessions: Sessions, mtn: Mtn, quantity: int = 3, msisdn: str = "+237670000001", *,
               verify_later: bool = False) -> VoteOrder:
    """A vote paid at MTN's sandbox and counted: as a status call counts it, or (`verify_later`) as its callback on
    the order's secret URL does, queued for the status call that verifies it."""
    order = await place(sessions, mtn.contest, quantity=quantity, msisdn=msisdn)
    await start_payment(sessions, mtn.registry, order.id)
    async with sessions() as session:
        loaded = await load_collection(session, order.id)
    assert loaded is not None
    provider = mtn.registry.get("mtn")
    status = await poll(lambda: provider.fetch_status(loaded[1]), lambda s: s.state is not PaymentState.PENDING)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency,
                                   status.provider_txn_id, provider="mtn", verify_later=verify_later)
    return await tables.get_order(sessions, order.id)
