"""The books against M-Pesa's, our app and the Daraja sandbox over localhost: a day of counted votes, a refund by
Reversal and a payout by B2C agrees, by each prompt's query, each result Daraja posted, and the shortcode's C2B
payments (Pull Transactions); money paid into the paybill that names no order of ours is found, audited once, and
`gateway reconcile money --provider mpesa` lists it (exit 3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.money_in.reconciler import reconcile
from gateway.core.money_in.verification.by_status import verify_due
from gateway.core.money_out import payouts
from gateway.core.money_out.money_reconciliation import reconcile_money
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.money_out.refunds import request_refund
from gateway.core.money_out.refunds_sent import refunds_pass
from gateway.core.providers import PaymentError, PaymentProvider
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, Payout, PayoutState, Refund, RefundState
from gateway.kit.keys import PROVIDERS
from payments.mpesa.stk_push import MpesaStkPush
from tests.commands import command_env, gateway
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa

OWNER, APPROVER = Actor(None, "ada@example.org", "owner"), Actor(None, "bea@example.org", "owner")


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        yield running


async def no_pace(provider: PaymentProvider) -> None:
    return None


async def a_day_of_money(live: LiveMpesa) -> None:
    """Two votes paid and counted (one refunded by a Reversal since) and a payout paid by B2C."""
    providers = live.client.app[PROVIDERS]
    kept = await live.settled(await live.vote(quantity=10))
    refunded = await live.settled(await live.vote("+254712000002", quantity=2))
    assert kept.status is refunded.status is OrderStatus.PAID
    await verify_due(live.sessions, providers, now=datetime.now(UTC) + timedelta(hours=1))
    await request_refund(live.sessions, providers, refunded.id, "owner@example.org", reason="asked")
    await payouts.set_account(live.sessions, OWNER, live.contest.id, payouts.AccountDraft(
        "mpesa", "Wanjiku", msisdn="+254712000123", proven=True))
    payout = await payouts.request_payout(live.sessions, OWNER, live.contest.id, "KES", 5000)
    await payouts.approve_payout(live.sessions, providers, APPROVER, live.contest.id, payout.id)
    now = datetime.now(UTC)
    for step in range(40):  # the worker's passes, 30 s apart, until both are decided (the sandbox's own delay)
        await refunds_pass(live.sessions, providers, now + timedelta(seconds=30 * step))
        await payouts_pass(live.sessions, providers, now + timedelta(seconds=30 * step))
        async with live.sessions() as session:
            states = (list(await session.scalars(select(Refund.state))),
                      list(await session.scalars(select(Payout.state))))
        if states == ([RefundState.SUCCEEDED], [PayoutState.SUCCEEDED]):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the refund and the payout were not settled: {states}")


async def paid_in_on_the_phone(live: LiveMpesa, shillings: int, bill_reference: str) -> str:
    """A payment into our paybill from the phone's own menu: no prompt of ours asked for it."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{live.sandbox_url}/mpesa/sandbox/c2b", json={
            "phone": "254712000777", "amount": shillings, "bill_reference": bill_reference})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["transactionId"])


async def test_the_day_agrees_then_money_paid_in_for_no_order_is_found_and_audited_once(live: LiveMpesa) -> None:
    await a_day_of_money(live)
    today, providers = datetime.now(UTC).date(), live.client.app[PROVIDERS]
    report = await reconcile_money(live.sessions, providers, "mpesa", today, no_pace)
    assert (report.checked, report.differences, report.unread) == (4, [], 0)  # 2 payments, the refund, the payout
    receipt = await paid_in_on_the_phone(live, 300, "WANJIKU")
    for _ in range(2):
        report = await reconcile_money(live.sessions, providers, "mpesa", today, no_pace)
        [gap] = report.differences
        assert (gap.what, gap.entry.amount, gap.word.status) == ("missing_in_books", 30_000, f"charged ({receipt})")
    async with live.sessions() as session:
        audited = list(await session.scalars(select(AuditEntry.details["line"].astext).where(
            AuditEntry.action == "money.difference", AuditEntry.target == f"money:mpesa:{today.isoformat()}")))
    assert len(audited) == 1 and "missing_in_books" in audited[0] and "300.00 KES" in audited[0]


async def test_a_payment_naming_our_reference_is_ours_even_counted_without_its_receipt(live: LiveMpesa) -> None:
    """A vote counted by the prompt's query (its callback lost) has no receipt in our books: the bill reference,
    our reference's first digits, still names it; another reference's digits do not."""
    live.control.drop_callbacks = True
    order_id = await live.vote(quantity=3)
    await asyncio.sleep(0.2)
    await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=31))
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID and not order.provider_txn_id
    await paid_in_on_the_phone(live, 30, "0123456789AB")
    report = await reconcile_money(live.sessions, live.client.app[PROVIDERS], "mpesa", datetime.now(UTC).date(),
                                   no_pace)
    assert [(gap.what, gap.entry.amount) for gap in report.differences] == [("missing_in_books", 3000)]


async def test_a_day_past_darajas_48_hours_is_said_not_read(live: LiveMpesa) -> None:
    push = live.client.app[PROVIDERS].get("mpesa")
    assert isinstance(push, MpesaStkPush)
    with pytest.raises(PaymentError, match="48 hours"):
        await push.charges_between(datetime.now(UTC) - timedelta(days=3), datetime.now(UTC) - timedelta(days=2))
    report = await reconcile_money(live.sessions, live.client.app[PROVIDERS], "mpesa",
                                   (datetime.now(UTC) - timedelta(days=3)).date(), no_pace)
    assert report.unread == 1 and "1 not read (try again later)" in report.summary()


async def test_gateway_reconcile_money_lists_mpesa_s_difference(live: LiveMpesa, settings: Settings) -> None:
    await a_day_of_money(live)
    env = command_env(settings, SANDBOX_URL=live.sandbox_url)
    command = ["reconcile", "money", "--provider", "mpesa"]
    agreed = await asyncio.to_thread(gateway, *command, env=env)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert f"mpesa {datetime.now(UTC).date().isoformat()}: 4 checked, no difference" in agreed.stdout
    await paid_in_on_the_phone(live, 120, "")
    found = await asyncio.to_thread(gateway, *command, env=env)
    assert found.returncode == 3, found.stdout + found.stderr
    assert "missing_in_books: payment" in found.stdout and "120.00 KES" in found.stdout
    assert "4 checked, 1 difference(s)" in found.stdout
