"""Payouts to an organiser through the sandbox's Disbursement API: asked for up to the balance, approved by another
owner, sent once under a reference kept before the first call (a crash between the call and its record sends it
again and MTN pays once), and the balance drops by it; a transfer MTN refuses gives the money back to the balance;
two requests at once never spend the balance twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.errors import Conflict, DomainError, Forbidden
from gateway.core.money_out import payouts, settlements
from gateway.core.money_out.payouts_sent import outgoing, payouts_pass
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import BANK_ACCOUNT, AuditEntry, Contest, Payout, PayoutState
from tests.core.money_in.mtn_sandbox import Mtn, mtn_sandbox
from tests.factories import make_contest, place

ORGANISER = Actor(None, "organiser@example.org", "owner")  # an owner may ask too; the approver is another one
APPROVER = Actor(None, "approver@example.org", "owner")
WALLET = "+237670000123"


@pytest.fixture
async def mtn(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Mtn]:
    async with mtn_sandbox(settings, sessions) as wired:
        yield replace(wired, contest=await takings(sessions, 10))


async def takings(sessions: Sessions, votes: int) -> Contest:
    """A contest with `votes` paid votes of 100 XAF (1,000 XAF net: no fee, no commission) and an MTN wallet."""
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=votes)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "T1", provider="mtn")
    await payouts.set_account(sessions, ORGANISER, contest.id, payouts.AccountDraft(
        "mtn", "Ada Organiser", msisdn=WALLET, proven=True))
    return contest


async def balance(sessions: Sessions, contest: Contest) -> tuple[int, int]:
    """(paid out, balance) of the contest's XAF statement."""
    [xaf] = (await settlements.settlement(sessions, APPROVER, contest.id)).figures
    return xaf.paid_out, xaf.balance


async def passes_until_settled(sessions: Sessions, mtn: Mtn) -> list[str]:
    outcomes, now = [], datetime.now(UTC)
    for _ in range(6):
        outcomes += [turn.outcome for turn in await payouts_pass(sessions, mtn.registry, now)]
        now += timedelta(seconds=30)
        await asyncio.sleep(0.1)  # the sandbox decides after its own (real) success_delay
    return outcomes


async def test_a_payout_approved_by_another_owner_reaches_the_wallet_once(sessions: Sessions, mtn: Mtn) -> None:
    before = await mtn.payouts.balance("XAF")
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "xaf", 600)
    assert await balance(sessions, mtn.contest) == (0, 400)  # spoken for at once
    with pytest.raises(Forbidden):
        await payouts.approve_payout(sessions, mtn.registry, ORGANISER, payout.contest_id, payout.id)  # four eyes
    approved = await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    assert approved.state is PayoutState.REQUESTED
    assert await passes_until_settled(sessions, mtn) == ["sent", "succeeded"]
    assert await mtn.payouts.balance("XAF") == before - 600  # one transfer
    assert await balance(sessions, mtn.contest) == (600, 400)
    async with sessions() as session:
        done = await session.get(Payout, payout.id)
        actions = list(await session.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"payout:{payout.id}").order_by(AuditEntry.id)))
    assert done is not None and done.state is PayoutState.SUCCEEDED and done.provider_txn_id
    assert actions == ["payout.request", "payout.approve", "payout.succeeded"]


async def test_a_crash_between_the_transfer_and_its_record_pays_once(sessions: Sessions, mtn: Mtn) -> None:
    before = await mtn.payouts.balance("XAF")
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 500)
    await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    # The worker sent it, then died before writing that it had: the row still says `requested`.
    async with sessions() as session:
        row = await session.get(Payout, payout.id)
    assert row is not None
    await mtn.payouts.send_payout(await outgoing(sessions, row))
    assert await passes_until_settled(sessions, mtn) == ["sent", "succeeded"]  # sent again: MTN's 409, once
    assert await mtn.payouts.balance("XAF") == before - 500


async def test_a_transfer_mtn_refuses_gives_the_money_back_to_the_balance(sessions: Sessions, mtn: Mtn) -> None:
    await payouts.set_account(sessions, ORGANISER, mtn.contest.id, payouts.AccountDraft(
        "mtn", "Ada Organiser", msisdn="+237670000455", proven=True))  # MTN: PAYER_NOT_FOUND
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 1000)
    await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    assert await passes_until_settled(sessions, mtn) == ["sent", "failed"]
    assert await balance(sessions, mtn.contest) == (0, 1000)
    async with sessions() as session:
        failed = await session.get(Payout, payout.id)
    assert failed is not None and failed.provider_reason == "PAYER_NOT_FOUND"


async def test_two_requests_at_once_never_spend_the_balance_twice(sessions: Sessions, mtn: Mtn) -> None:
    asked = await asyncio.gather(*(payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 700)
                                   for _ in range(2)), return_exceptions=True)
    assert sorted(type(result).__name__ for result in asked) == ["Conflict", "Payout"]
    assert await balance(sessions, mtn.contest) == (0, 300)
    with pytest.raises(Conflict, match="balance is 300 XAF"):
        await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 301)


async def test_what_a_payout_is_refused_for(sessions: Sessions, mtn: Mtn) -> None:
    bare = await make_contest(sessions)
    with pytest.raises(Conflict, match="payout account"):  # none set
        await payouts.request_payout(sessions, ORGANISER, bare.id, "XAF", 1)
    with pytest.raises(DomainError, match="answered the code"):  # a wallet nobody proved
        await payouts.set_account(sessions, ORGANISER, bare.id, payouts.AccountDraft(
            "orange", "Ada", msisdn="+237690000001", proven=False))
    with pytest.raises(DomainError, match="more than 0"):
        await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 0)
    with pytest.raises(DomainError, match="Stars are withdrawn"):
        await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "xtr", 5)
    with pytest.raises(Conflict, match="balance is 0 EUR"):  # a currency it never took
        await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "EUR", 5)
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 100)
    with pytest.raises(Forbidden):  # an organiser decides nothing
        await payouts.approve_payout(sessions, mtn.registry, Actor(None, "other@example.org", "auditor"),
                                     payout.contest_id, payout.id)
    await payouts.decline_payout(sessions, APPROVER, payout.contest_id, payout.id, "wrong amount")
    with pytest.raises(Conflict, match="decided already"):
        await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    assert await balance(sessions, mtn.contest) == (0, 1000)
    assert await passes_until_settled(sessions, mtn) == []  # nothing went out


async def test_a_bank_payout_is_paid_by_hand_with_its_proof(sessions: Sessions, mtn: Mtn) -> None:
    await payouts.set_account(sessions, ORGANISER, mtn.contest.id, payouts.AccountDraft(
        BANK_ACCOUNT, "Ada Organiser SARL", bank_details="Afriland First Bank, 10005 00001 0123456789 01"))
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 900)
    approved = await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    assert approved.state is PayoutState.BY_HAND
    assert await passes_until_settled(sessions, mtn) == []  # no API pays a bank account
    with pytest.raises(DomainError, match="reference at the bank"):
        await payouts.mark_paid(sessions, APPROVER, payout.contest_id, payout.id, " ")
    await payouts.mark_paid(sessions, APPROVER, payout.contest_id, payout.id, "VIR-2026-11-24-0042")
    assert await balance(sessions, mtn.contest) == (900, 100)


async def test_two_approvals_at_once_approve_once(sessions: Sessions, mtn: Mtn) -> None:
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 400)
    third = Actor(None, "cyd@example.org", "owner")
    decided = await asyncio.gather(*(payouts.approve_payout(sessions, mtn.registry, owner, payout.contest_id,
                                                            payout.id)
                                     for owner in (APPROVER, third)), return_exceptions=True)
    assert sorted(type(result).__name__ for result in decided) == ["Conflict", "Payout"]
    async with sessions() as session:
        approvals = list(await session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "payout.approve")))
    assert len(approvals) == 1


async def test_a_transfer_mtn_paid_for_another_amount_never_goes_back_to_the_balance(sessions: Sessions,
                                                                                  mtn: Mtn) -> None:
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 600)
    await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    assert [turn.outcome for turn in await payouts_pass(sessions, mtn.registry, datetime.now(UTC))] == ["sent"]
    async with httpx.AsyncClient() as http:  # MTN's records now say 550 went
        edited = await http.post(f"{mtn.url}/mtn/_control/transactions/{payout.id}", json={"amount": "550"})
    assert edited.status_code == 200
    assert await passes_until_settled(sessions, mtn) == ["succeeded"]
    assert await balance(sessions, mtn.contest) == (600, 400)  # not paid again: a person looks
    async with sessions() as session:
        done = await session.get(Payout, payout.id)
    assert done is not None and done.provider_reason == "the provider paid 550 XAF, 600 were asked"


async def test_a_send_refused_after_one_that_timed_out_is_decided_by_mtns_word_not_failed(
        sessions: Sessions, mtn: Mtn) -> None:
    before = await mtn.payouts.balance("XAF")
    payout = await payouts.request_payout(sessions, ORGANISER, mtn.contest.id, "XAF", 500)
    await payouts.approve_payout(sessions, mtn.registry, APPROVER, payout.contest_id, payout.id)
    async with sessions.begin() as session:  # an earlier attempt's transfer reached MTN, its answer was lost
        row = await session.get(Payout, payout.id)
        assert row is not None
        row.attempts = 1
    await mtn.payouts.send_payout(await outgoing(sessions, row))
    async with httpx.AsyncClient() as http:  # MTN now refuses our credentials: the resend is refused for good
        (await http.post(f"{mtn.url}/_control", json={"reject_credentials": True})).raise_for_status()
        (await http.post(f"{mtn.url}/_control", json={"expire_tokens": True})).raise_for_status()
        turns = [turn.outcome for turn in await payouts_pass(sessions, mtn.registry, datetime.now(UTC))]
        assert turns == ["retry"]  # neither failed (the amount back in the balance) nor sent again
        assert await balance(sessions, mtn.contest) == (0, 500)
        (await http.post(f"{mtn.url}/_control", json={"reject_credentials": False})).raise_for_status()
    assert await passes_until_settled(sessions, mtn) == ["sent", "succeeded"]
    assert await mtn.payouts.balance("XAF") == before - 500  # one transfer
    assert await balance(sessions, mtn.contest) == (500, 500)
