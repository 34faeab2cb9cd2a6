"""Money out to Airtel wallets through the sandbox's Disbursement API, as the worker sends and follows it. A payout:
asked, approved by another owner, sent once under a reference kept before the first call (a resend is Airtel's
"duplicate transaction", taken as sent), read back by enquiry; one Airtel fails gives the money back to the balance.
A refund: the amount owed paid back to the wallet that paid, once, the order then refunded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
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
from gateway.core.money_out import payouts, settlements
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.money_out.refunds import request_refund
from gateway.core.money_out.refunds_sent import owe_refunds, refunds_pass
from gateway.core.money_out.transfers import Turn
from gateway.core.orders import counting, tables
from gateway.core.providers import CollectionNotFound, OutgoingPayout, OutgoingRefund, PaymentError, PaymentState
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, Payout, PayoutState, Refund, RefundState, VoteOrder
from payments.airtel.disbursement import AirtelDisbursement
from payments.registry import ProviderRegistry
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import assert_tally_invariant, make_contest, place, tallies
from tests.payments import poll

ORGANISER = Actor(None, "organiser@example.org", "owner")
APPROVER = Actor(None, "approver@example.org", "owner")


@dataclass
class Airtel:
    registry: ProviderRegistry
    control: SandboxControl

    @property
    def payouts(self) -> AirtelDisbursement:
        sender = self.registry.payout_sender("airtel")
        assert isinstance(sender, AirtelDisbursement)
        return sender


@pytest.fixture
async def airtel(clean: None, settings: Settings) -> AsyncIterator[Airtel]:
    control = SandboxControl(success_delay=0.05)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        url = str(sandbox.make_url("")).rstrip("/")
        async with httpx.AsyncClient(timeout=5) as http:
            registry = build_providers(settings.model_copy(update={"sandbox_url": url}), http)
            yield Airtel(registry, control)
            await registry.aclose()


async def takings(sessions: Sessions, wallet: str) -> Contest:
    """A contest with 10 paid votes of 500 UGX and an Airtel wallet to pay its organiser on."""
    contest = await make_contest(sessions, currency="UGX", price_per_vote=500, providers=["airtel"])
    order = await place(sessions, contest, quantity=10, provider="airtel", msisdn="+256700000001")
    await counting.confirm_payment(sessions, order.id, "TS", order.amount, "UGX", "MP1", provider="airtel")
    await payouts.set_account(sessions, ORGANISER, contest.id, payouts.AccountDraft(
        "airtel", "Ada Organiser", msisdn=wallet, proven=True))
    return contest


Pass = Callable[[Sessions, ProviderRegistry, datetime], Awaitable[list[Turn]]]


async def passes_until_settled(sessions: Sessions, airtel: Airtel, run: Pass = payouts_pass) -> list[str]:
    """The worker's passes (payouts', or refunds'), 30 s apart as it runs them."""
    outcomes, now = [], datetime.now(UTC)
    for _ in range(6):
        outcomes += [turn.outcome for turn in await run(sessions, airtel.registry, now)]
        now += timedelta(seconds=30)
        await asyncio.sleep(0.1)  # the sandbox decides after its own (real) success_delay
    return outcomes


async def paid_out(sessions: Sessions, contest: Contest) -> tuple[int, int]:
    [ugx] = (await settlements.settlement(sessions, APPROVER, contest.id)).figures
    return ugx.paid_out, ugx.balance


@pytest.mark.parametrize(("wallet", "outcomes", "state", "figures"), [
    ("+256700000123", ["sent", "succeeded"], PayoutState.SUCCEEDED, (3000, 2000)),
    ("+256700000451", ["sent", "failed"], PayoutState.FAILED, (0, 5000)),  # Airtel's TF: back in the balance
])
async def test_a_payout_reaches_the_wallet_once_or_goes_back_to_the_balance(
        sessions: Sessions, airtel: Airtel, wallet: str, outcomes: list[str], state: PayoutState,
        figures: tuple[int, int]) -> None:
    contest = await takings(sessions, wallet)
    payout = await payouts.request_payout(sessions, ORGANISER, contest.id, "ugx", 3000)
    await payouts.approve_payout(sessions, airtel.registry, APPROVER, contest.id, payout.id)
    assert await passes_until_settled(sessions, airtel) == outcomes
    async with sessions() as session:
        done = await session.get(Payout, payout.id)
    assert done is not None and done.state is state
    assert await paid_out(sessions, contest) == figures


async def test_a_payout_sent_again_is_taken_once_and_read_back(airtel: Airtel) -> None:
    payout = OutgoingPayout(uuid.uuid4(), "+256700000123", 3000, "UGX", "Ballot payout: Gala")
    await airtel.payouts.send_payout(payout)
    await airtel.payouts.send_payout(payout)  # a lost answer's resend: Airtel's duplicate, taken as sent
    await asyncio.sleep(0.1)
    status = await airtel.payouts.payout_status(payout)
    assert status.state is PaymentState.SUCCESSFUL and status.provider_txn_id
    with pytest.raises(CollectionNotFound):
        await airtel.payouts.payout_status(OutgoingPayout(uuid.uuid4(), "+256700000123", 3000, "UGX", "x"))
    with pytest.raises(PaymentError) as refused:  # a wallet of a country Airtel does not serve: no call at all
        await airtel.payouts.send_payout(OutgoingPayout(uuid.uuid4(), "+237670000123", 3000, "XAF", "x"))
    assert refused.value.code == "unsupported_number" and not refused.value.retryable


async def paid_vote(sessions: Sessions, airtel: Airtel, msisdn: str = "+256700000001") -> VoteOrder:
    """A vote paid at the sandbox by its USSD push and counted, as an enquiry counts it."""
    contest = await make_contest(sessions, currency="UGX", price_per_vote=500, providers=["airtel"])
    order = await place(sessions, contest, quantity=3, provider="airtel", msisdn=msisdn)
    await start_payment(sessions, airtel.registry, order.id)
    async with sessions() as session:
        loaded = await load_collection(session, order.id)
    assert loaded is not None
    provider = airtel.registry.get("airtel")
    status = await poll(lambda: provider.fetch_status(loaded[1]), lambda s: s.state is not PaymentState.PENDING)
    await counting.confirm_payment(sessions, order.id, "TS", order.amount, order.currency, status.provider_txn_id,
                                   provider="airtel")
    return await tables.get_order(sessions, order.id)


async def test_a_refund_goes_back_to_the_wallet_that_paid_once_even_sent_twice(
        sessions: Sessions, airtel: Airtel) -> None:
    order = await paid_vote(sessions, airtel)
    outcome = await request_refund(sessions, airtel.registry, order.id, "owner@example.org", reason="voter asked")
    assert outcome.status is OrderStatus.REFUND_REQUESTED
    assert await owe_refunds(sessions, airtel.registry) == 1
    async with sessions() as session:
        refund = (await session.scalars(select(Refund))).one()
        loaded = await load_collection(session, order.id)
    assert loaded is not None
    # The worker sent it, then died before writing that it had: the row still says `requested`.
    await airtel.payouts.send_refund(OutgoingRefund(refund.id, loaded[1], refund.amount, refund.currency))
    assert await passes_until_settled(sessions, airtel, refunds_pass) == ["sent", "succeeded"]  # Airtel's duplicate
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.REFUNDED
    async with sessions() as session:
        done = await session.get(Refund, refund.id)
    assert done is not None and done.state is RefundState.SUCCEEDED and done.provider_txn_id
    assert (await tallies(sessions, order.contest_id))["01"] == 0
    await assert_tally_invariant(sessions, order.contest_id)
