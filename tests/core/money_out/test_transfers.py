"""What refunds and payouts sent by MTN's Disbursement API share, on both kinds through the sandbox: a resend MTN
refuses for good is decided by MTN's word on the reference (the first send may have gone through), never paid twice
and never failed while it may be paid; a refusal of what MTN never got fails, for a person; two passes at once send
each transfer once, however slow the first one's turns, and a worker whose lease ran out decides nothing."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from assembly.settings import Settings
from gateway.core.money_in.collections import load_collection
from gateway.core.money_out import outgoing_notices, payouts
from gateway.core.money_out.payouts_sent import PayoutTransfers, outgoing, payouts_pass
from gateway.core.money_out.refunds import request_refund
from gateway.core.money_out.refunds_sent import RefundTransfers, owe_refunds, refunds_pass
from gateway.core.money_out.transfers import CLAIM_LEASE, Transfers, Turn
from gateway.core.orders import tables
from gateway.core.providers import OutgoingRefund, Providers
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, Payout, Refund
from tests.core.money_in.mtn_sandbox import Mtn, mtn_sandbox, paid
from tests.core.money_out.test_payouts import APPROVER, ORGANISER, takings

PAYERS = itertools.count(1)
Pass = Callable[[Sessions, Providers, datetime], Awaitable[list[Turn]]]


@dataclass(frozen=True)
class Kind:
    """One kind of transfer as a test drives it: owed, sent behind the worker's back, and its pass."""

    machine: type[Transfers[Any, Any, Any]]  # its table and states
    owe: Callable[[Sessions, Mtn], Awaitable[uuid.UUID]]  # one transfer owed, nothing sent yet
    send_directly: Callable[[Sessions, Mtn, Any], Awaitable[None]]
    run: Pass


async def owe_a_refund(sessions: Sessions, mtn: Mtn) -> uuid.UUID:
    order = await paid(sessions, mtn, quantity=1, msisdn=f"+2376710{next(PAYERS):05d}")  # no fraud rule holds it
    await request_refund(sessions, mtn.registry, order.id, ORGANISER.email, reason="voter asked")
    await owe_refunds(sessions, mtn.registry)
    async with sessions() as session:
        return (await session.scalars(select(Refund.id).where(Refund.order_id == order.id))).one()


async def send_a_refund(sessions: Sessions, mtn: Mtn, refund: Refund) -> None:
    async with sessions() as session:
        loaded = await load_collection(session, refund.order_id)
    assert loaded is not None
    await mtn.payouts.send_refund(OutgoingRefund(refund.id, loaded[1], refund.amount, refund.currency))


async def owe_a_payout(sessions: Sessions, mtn: Mtn) -> uuid.UUID:
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 100)
    await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    return payout.id


async def send_a_payout(sessions: Sessions, mtn: Mtn, payout: Payout) -> None:
    await mtn.payouts.send_payout(await outgoing(sessions, payout))


KINDS = {"refund": Kind(RefundTransfers, owe_a_refund, send_a_refund, refunds_pass),
         "payout": Kind(PayoutTransfers, owe_a_payout, send_a_payout, payouts_pass)}


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


@pytest.fixture
async def mtn(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Mtn]:
    async with mtn_sandbox(settings, sessions) as wired:
        yield replace(wired, contest=await takings(sessions, 10))  # a balance to pay out of, and votes to refund


async def row_of(sessions: Sessions, kind: Kind, reference: uuid.UUID) -> Any:
    async with sessions() as session:
        return await session.get_one(kind.machine.model, reference)


async def passes_until_settled(sessions: Sessions, kind: Kind, mtn: Mtn) -> list[str]:
    """The worker's passes, 30 s apart as it runs them, until nothing is due."""
    outcomes, now = [], datetime.now(UTC)
    for _ in range(6):
        outcomes += [turn.outcome for turn in await kind.run(sessions, mtn.registry, now)]
        now += timedelta(seconds=30)
        await asyncio.sleep(0.1)  # the sandbox decides after its own (real) success_delay
    return outcomes


async def control(mtn: Mtn, **switches: object) -> None:
    async with httpx.AsyncClient() as http:
        (await http.post(f"{mtn.url}/_control", json=switches)).raise_for_status()


async def test_a_resend_refused_for_good_is_decided_by_mtns_word_on_the_reference(
        kind: Kind, sessions: Sessions, mtn: Mtn) -> None:
    before = await mtn.payouts.balance("XAF")
    reference = await kind.owe(sessions, mtn)
    async with sessions.begin() as session:  # an earlier attempt reached MTN, and its answer was lost
        await session.execute(update(kind.machine.model).where(kind.machine.model.id == reference).values(attempts=1))
    await kind.send_directly(sessions, mtn, await row_of(sessions, kind, reference))
    await control(mtn, reject_credentials=True, expire_tokens=True)  # the resend is refused for good
    outcomes = [turn.outcome for turn in await kind.run(sessions, mtn.registry, datetime.now(UTC))]
    assert outcomes == ["retry"]  # not failed: it may be paid (a failed one is sent again, or back in the balance)
    assert (await row_of(sessions, kind, reference)).state is kind.machine.requested
    await control(mtn, reject_credentials=False)
    assert await passes_until_settled(sessions, kind, mtn) == ["sent", "succeeded"]
    assert (await row_of(sessions, kind, reference)).state is kind.machine.succeeded
    assert await mtn.payouts.balance("XAF") == before - 100  # paid once


async def test_a_resend_refused_of_what_mtn_never_got_fails_for_a_person(kind: Kind, sessions: Sessions,
                                                                         mtn: Mtn) -> None:
    reference = await kind.owe(sessions, mtn)
    async with sessions.begin() as session:  # a resend, in a currency MTN refuses: it never took the first send
        await session.execute(update(kind.machine.model).where(kind.machine.model.id == reference).values(attempts=1,
                                                                                           currency="USD"))
    assert await passes_until_settled(sessions, kind, mtn) == ["failed"]
    failed = await row_of(sessions, kind, reference)
    assert failed.state is kind.machine.failed and failed.provider_reason.startswith("BAD_REQUEST")
    if kind.machine.model is Refund:  # still owed, and before a person
        order = await tables.get_order(sessions, failed.order_id)
        assert order.status is OrderStatus.REFUND_REQUESTED and "refused the refund" in (order.status_reason or "")


async def test_two_passes_at_once_send_each_transfer_once(kind: Kind, sessions: Sessions, mtn: Mtn) -> None:
    """A pass whose turns are slow (MTN answering late: a pass may run five minutes) is still working through what
    it listed when the next pass starts, two and a half minutes on: no transfer goes out from both."""
    references = [await kind.owe(sessions, mtn) for _ in range(5)]
    await control(mtn, answer_delay=0.1)
    now = datetime.now(UTC)

    async def next_pass() -> list[Turn]:
        await asyncio.sleep(0.15)  # the first has sent one or two
        return await kind.run(sessions, mtn.registry, now + timedelta(minutes=2, seconds=30))

    slow, later = await asyncio.gather(kind.run(sessions, mtn.registry, now), next_pass())
    sent = [turn.reference for turn in [*slow, *later] if turn.outcome == "sent"]
    assert sorted(sent) == sorted(references)  # each once
    assert any(turn.outcome == "sent" for turn in slow) and any(turn.outcome == "sent" for turn in later)
    async with sessions() as session:
        noted = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("%.failed"))))
    assert noted == []


async def test_a_worker_whose_lease_ran_out_stands_back(kind: Kind, sessions: Sessions, mtn: Mtn) -> None:
    """A worker stuck past its lease (MTN hung) and the one that claimed the transfer after it: the provider's word is
    taken once, by the later one; the stuck one's writes are refused."""
    reference = await kind.owe(sessions, mtn)
    assert [turn.outcome for turn in await kind.run(sessions, mtn.registry, datetime.now(UTC))] == ["sent"]
    await asyncio.sleep(0.1)  # the sandbox decides
    transfers = kind.machine(sessions, mtn.registry)
    now = datetime.now(UTC) + timedelta(minutes=1)
    [listed] = await transfers.due(now)
    stuck = await transfers.claim(listed, now)
    assert stuck is not None and await transfers.claim(listed, now) is None  # held: nobody else takes it
    [listed_again] = await transfers.due(now + CLAIM_LEASE)
    after = await transfers.claim(listed_again, now + CLAIM_LEASE)
    assert after is not None
    assert await transfers.take_turn(after, now + CLAIM_LEASE) == "succeeded"
    assert await transfers.take_turn(stuck, now) == "overtaken"
    async with sessions() as session:
        noted = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("%.succeeded"))))
    assert noted == [f"{kind.machine.noun}.succeeded"]  # once
    assert (await row_of(sessions, kind, reference)).state is kind.machine.succeeded


async def test_mtns_callback_never_cuts_a_senders_lease_short(kind: Kind, sessions: Sessions, mtn: Mtn) -> None:
    """MTN's word on a transfer a worker is sending (its answer on the way) brings no second worker to send it."""
    reference = await kind.owe(sessions, mtn)
    transfers = kind.machine(sessions, mtn.registry)
    now = datetime.now(UTC)
    [listed] = await transfers.due(now)
    assert await transfers.claim(listed, now) is not None  # a worker is sending it
    assert await outgoing_notices.notice(sessions, reference)
    assert await transfers.due(now + timedelta(minutes=1)) == []  # nobody else takes it meanwhile
