"""A balance is set only against the books of its own currency. MTN is asked for the currencies of the contests
that take it, nothing else (a KES contest paid by M-Pesa beside an XAF one is none of MTN's business); and an
answer in another currency than the one asked (an MTN account holds one currency, and tells its own whatever is
asked) is said so, never compared: a clean day is no difference. The sandbox here answers as such an account does,
and every balance request it is sent is noted at the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy import func, select

from assembly.providers import build_providers
from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, ProviderBalance
from gateway.jobs.balance_check import check_balances
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from payments.sandbox.mtn_disbursement import STARTING_BALANCE
from tests.commands import command_env, gateway
from tests.factories import make_contest
from tests.jobs.money_day import Mtn, paid

ACCOUNT_CURRENCY = "XAF"  # what the sandbox's MTN accounts hold


@dataclass
class OneCurrencyMtn:
    mtn: Mtn
    asked: list[str]  # the currency of each balance request MTN was sent, in order


def answering_in_its_own_currency(asked: list[str]) -> Middleware:
    """An account's balance in the account's currency, whatever the request asks (noted)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.endswith("/account/balance"):
            asked.append(request.query.get("currency", ""))
            request = request.clone(rel_url=request.rel_url.update_query(currency=ACCOUNT_CURRENCY))
        return await handler(request)

    return middleware


@pytest.fixture
async def mtn_xaf(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[OneCurrencyMtn]:
    asked: list[str] = []
    control = SandboxControl(success_delay=0.05)
    app = create_sandbox_app(control)
    app.middlewares.append(answering_in_its_own_currency(asked))
    async with TestServer(app) as sandbox, httpx.AsyncClient(timeout=5) as http:
        url = str(sandbox.make_url("")).rstrip("/")
        registry = build_providers(settings.model_copy(update={"sandbox_url": url}), http)
        try:
            contest = await make_contest(sessions)  # XAF, paid by MTN (and others)
            yield OneCurrencyMtn(Mtn(registry, contest, sandbox, url, control), asked)
        finally:
            await registry.aclose()


async def test_mtn_is_never_asked_for_the_currency_of_a_contest_it_does_not_take(
        sessions: Sessions, mtn_xaf: OneCurrencyMtn, settings: Settings) -> None:
    await make_contest(sessions, currency="KES", providers=["mpesa"], sms_short_code="20998",
                       ussd_service_codes=["*384*998#"])
    await paid(sessions, mtn_xaf.mtn, 10)
    env = command_env(settings, SANDBOX_URL=mtn_xaf.mtn.url)
    command = ["reconcile", "money", "--provider", "mtn"]
    first = await asyncio.to_thread(gateway, *command, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    await paid(sessions, mtn_xaf.mtn, 3)  # the XAF account and its books move together
    clean = await asyncio.to_thread(gateway, *command, env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "balance: mtn collection account, XAF: 1300 held, moved as the books did since the last reading" \
        in clean.stdout
    assert "KES" not in clean.stdout
    assert mtn_xaf.asked and set(mtn_xaf.asked) == {"XAF"}  # collection and disbursement, each run


async def test_an_answer_in_another_currency_is_said_and_not_compared(
        sessions: Sessions, mtn_xaf: OneCurrencyMtn) -> None:
    """A KES contest that takes MTN: MTN is asked for KES, answers XAF; the line says so, and nothing is a gap."""
    await make_contest(sessions, currency="KES", providers=["mtn"], sms_short_code="20998",
                       ussd_service_codes=["*384*998#"])
    await paid(sessions, mtn_xaf.mtn, 10)
    await check_balances(sessions, mtn_xaf.mtn.registry, "mtn")
    await paid(sessions, mtn_xaf.mtn, 3)
    readings = await check_balances(sessions, mtn_xaf.mtn.registry, "mtn")
    assert sorted(mtn_xaf.asked) == ["KES"] * 4 + ["XAF"] * 4
    in_kes = [reading for reading in readings if reading.currency == "KES"]
    assert [reading.line() for reading in in_kes] == [
        "balance: mtn collection account: asked KES, mtn answered XAF: not compared",
        "balance: mtn disbursement account: asked KES, mtn answered XAF: not compared"]
    assert all(reading.gap is None and reading.balance is None for reading in in_kes)
    assert [(r.account, r.balance, r.gap) for r in readings if r.currency == "XAF"] == [
        ("collection", 1300, 0), ("disbursement", STARTING_BALANCE, 0)]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).where(ProviderBalance.currency == "KES")) == 0
        assert await session.scalar(select(func.count()).where(AuditEntry.action == "money.difference")) == 0
