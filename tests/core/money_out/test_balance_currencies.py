"""A balance is set only against the books of its own currency. MTN is asked for the currencies of the contests
that take it and of the money its accounts moved (a payout to an organiser's MTN wallet), nothing else (a KES
contest paid by M-Pesa beside an XAF one is none of MTN's business); and an answer in another currency than the
one asked (an MTN account holds one currency, and tells its own whatever is asked) is said so, never compared: a
clean day is no difference. The sandbox here answers as such an account does, and every balance request it is sent
is noted at the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy import func, select

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from gateway.core.money_out import payouts
from gateway.core.money_out.balance_check import check_balances
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, Payout, PayoutState, ProviderBalance
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from payments.sandbox.mtn_disbursement import STARTING_BALANCE
from tests.commands import command_env, gateway
from tests.core.money_out.money_day import APPROVER, OWNER, Mtn, paid
from tests.factories import make_contest, place
from tests.payments import poll

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


@asynccontextmanager
async def one_currency_mtn(settings: Settings, contest: Contest) -> AsyncIterator[OneCurrencyMtn]:
    """MTN's sandbox, its accounts holding XAF only; `contest` is the one its money day is of."""
    asked: list[str] = []
    control = SandboxControl(success_delay=0.05)
    app = create_sandbox_app(control)
    app.middlewares.append(answering_in_its_own_currency(asked))
    async with TestServer(app) as sandbox, httpx.AsyncClient(timeout=5) as http:
        url = str(sandbox.make_url("")).rstrip("/")
        registry = build_providers(settings.model_copy(update={"sandbox_url": url}), http)
        try:
            yield OneCurrencyMtn(Mtn(registry, contest, sandbox, url, control), asked)
        finally:
            await registry.aclose()


@pytest.fixture
async def mtn_xaf(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[OneCurrencyMtn]:
    async with one_currency_mtn(settings, await make_contest(sessions)) as mtn:  # XAF, paid by MTN (and others)
        yield mtn


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


async def paid_out_to_mtn(sessions: Sessions, mtn: Mtn, amount: int) -> None:
    """A payout of `amount` of the contest's takings to its organiser's MTN wallet, sent and settled at MTN."""
    payout = await payouts.request_payout(sessions, OWNER, mtn.contest.id, "XAF", amount)
    await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)

    passes = 0

    async def a_pass() -> PayoutState:
        # Each pass a minute further on: a transfer sent is first looked at 10 s later (transfers.FIRST_LOOK), which
        # a pass at the real time would wait out.
        nonlocal passes
        passes += 1
        await payouts_pass(sessions, mtn.registry, datetime.now(UTC) + timedelta(minutes=passes))
        async with sessions() as session:
            return (await session.get_one(Payout, payout.id)).state

    await poll(a_pass, lambda state: state is PayoutState.SUCCEEDED, timeout=30)


async def test_a_payout_to_an_mtn_wallet_is_checked_though_its_contest_takes_orange_only(
        clean: None, sessions: Sessions, settings: Settings) -> None:
    """The organiser's wallet is any phone-prompting provider's: MTN's disbursement account paid it, so MTN is asked
    for its XAF balance, and the books set against it, though no contest lists MTN among its providers."""
    contest = await make_contest(sessions, providers=["orange"])
    order = await place(sessions, contest, quantity=20, provider="orange")
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "OM1", provider="orange")
    await payouts.set_account(sessions, OWNER, contest.id, payouts.AccountDraft(
        "mtn", "Ada", msisdn="+237670000123", proven=True))
    async with one_currency_mtn(settings, contest) as mtn:
        await paid_out_to_mtn(sessions, mtn.mtn, 500)
        first = await check_balances(sessions, mtn.mtn.registry, "mtn")
        await paid_out_to_mtn(sessions, mtn.mtn, 300)
        readings = await check_balances(sessions, mtn.mtn.registry, "mtn")
    assert [(r.account, r.currency) for r in first] == [("collection", "XAF"), ("disbursement", "XAF")]
    assert [(r.account, r.balance, r.gap) for r in readings if r.account == "disbursement"] == [
        ("disbursement", STARTING_BALANCE - 800, 0)]  # moved by the second payout, as the books did
    assert set(mtn.asked) == {"XAF"}
