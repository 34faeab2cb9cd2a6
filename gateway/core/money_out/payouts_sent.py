"""Approved payouts to a wallet, going out by the provider's own API (MTN's Disbursement `transfer`), as refunds do
(gateway.core.money_out.refunds_sent): the payout's id is the reference the provider gets, kept before any call.

- requested: sent with its reference; taken (202, or 409 for a reference the provider has: an earlier attempt got
  through before a crash or a lost answer) → sent; a time-out or 5xx → tried again later, same reference; refused
  for good → failed (its amount is back in the balance), for a person;
- sent: its status read (within the provider's cap): successful → succeeded (for another amount than asked, kept
  for a person: money that moved never goes back to the balance); failed → failed;
  unknown to the provider (it never got it) → requested again, same reference; pending → looked at again later.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money_out.outgoing_rows import FIRST_LOOK, claim_due, due_again, later, move
from gateway.core.providers import (
    CollectionNotFound,
    OutgoingPayout,
    PaymentError,
    PaymentState,
    PayoutsSent,
    ProviderRateLimited,
    Providers,
    StatusResult,
)
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, Payout, PayoutState

log = logging.getLogger(__name__)
OPEN = (PayoutState.REQUESTED, PayoutState.SENT)


@dataclass(frozen=True)
class PayoutTurn:
    payout_id: uuid.UUID
    outcome: str  # sent | retry | succeeded | failed | pending | resend | skipped


async def payouts_pass(sessions: Sessions, registry: Providers, now: datetime) -> list[PayoutTurn]:
    """Send and follow what is due; one payout's failure never stops the others."""
    turns = []
    for payout in await claim_due(sessions, Payout, OPEN, now):
        try:
            turns.append(PayoutTurn(payout.id, await take_turn(sessions, registry, payout, now)))
        except Exception:  # the claim's lease brings it back
            log.exception("payout %s: its turn failed", payout.id)
    return turns


async def outgoing(sessions: Sessions, payout: Payout) -> OutgoingPayout:
    async with sessions() as session:
        contest = await session.scalar(select(Contest.name).where(Contest.id == payout.contest_id))
    assert payout.msisdn is not None  # a wallet's payout (the table's check)
    return OutgoingPayout(payout.id, payout.msisdn, payout.amount, payout.currency, f"Ballot payout: {contest}")


async def take_turn(sessions: Sessions, registry: Providers, payout: Payout, now: datetime) -> str:
    sender = registry.payout_sender(payout.kind)
    if sender is None:
        return "skipped"
    sent = await outgoing(sessions, payout)
    if payout.state is PayoutState.REQUESTED:
        try:
            await sender.send_payout(sent)
        except PaymentError as exc:
            if exc.retryable:
                await _due_again(sessions, payout, now + later(payout.attempts))
                return "retry"
            if payout.attempts > 1:  # an earlier send may have got through before its answer was lost
                return await _refused_again(sessions, sender, payout, sent, f"{exc.code}: {exc.message}", now)
            await _failed(sessions, payout, f"{exc.code}: {exc.message}")
            return "failed"
        await _move(sessions, payout, PayoutState.SENT, now + FIRST_LOOK)
        return "sent"
    try:
        status = await sender.payout_status(sent)
    except CollectionNotFound:  # the provider never got it: send it again, under the same reference
        await _move(sessions, payout, PayoutState.REQUESTED, now)
        return "resend"
    except (ProviderRateLimited, PaymentError):
        await _due_again(sessions, payout, now + later(payout.attempts))
        return "retry"
    return await _settle(sessions, payout, status, now)


async def _refused_again(sessions: Sessions, sender: PayoutsSent, payout: Payout, sent: OutgoingPayout, refusal: str,
                         now: datetime) -> str:
    """A send refused after an earlier one timed out: the provider's word on the reference decides, not the
    refusal (failing it would put the amount back in the balance while the first transfer is paid)."""
    try:
        status = await sender.payout_status(sent)
    except CollectionNotFound:  # it never got there: the refusal stands
        await _failed(sessions, payout, refusal)
        return "failed"
    except PaymentError:
        await _due_again(sessions, payout, now + later(payout.attempts))
        return "retry"
    await _move(sessions, payout, PayoutState.SENT, now)
    return await _settle(sessions, payout, status, now)


async def _settle(sessions: Sessions, payout: Payout, status: StatusResult, now: datetime) -> str:
    if status.state is PaymentState.PENDING:
        await _due_again(sessions, payout, now + later(payout.attempts))
        return "pending"
    if status.state is not PaymentState.SUCCESSFUL:
        await _failed(sessions, payout, status.reason or status.raw_status or "the provider's transfer did not succeed")
        return "failed"
    # Money moved: it never goes back to the balance (it could be paid out twice). Another amount than asked is
    # kept for a person, beside the transfer, and `gateway reconcile money` lists it.
    differs = None if status.amount == payout.amount else (
        f"the provider paid {status.amount} {status.currency}, {payout.amount} were asked")
    async with sessions.begin() as session:
        await session.execute(update(Payout).where(Payout.id == payout.id, Payout.state == PayoutState.SENT).values(
            state=PayoutState.SUCCEEDED, decided_at=now, provider_txn_id=status.provider_txn_id,
            provider_reason=differs))
        _note(session, payout, "payout.amount_differs" if differs else "payout.succeeded",
              {"provider_txn_id": status.provider_txn_id, **({"reason": differs} if differs else {})})
    if differs:
        log.warning("payout %s of contest %s: %s", payout.id, payout.contest_id, differs)
    return "succeeded"


async def _move(sessions: Sessions, payout: Payout, state: PayoutState, due_at: datetime) -> None:
    await move(sessions, Payout, payout.id, OPEN, state, due_at)


async def _due_again(sessions: Sessions, payout: Payout, due_at: datetime) -> None:
    await due_again(sessions, Payout, payout.id, due_at)


async def _failed(sessions: Sessions, payout: Payout, reason: str) -> None:
    """Refused for good: its amount is back in the balance, and a person sees why on it."""
    async with sessions.begin() as session:
        await session.execute(update(Payout).where(Payout.id == payout.id, Payout.state.in_(OPEN)).values(
            state=PayoutState.FAILED, provider_reason=reason[:1000], decided_at=func.now()))
        _note(session, payout, "payout.failed", {"reason": reason})
    log.warning("payout %s of contest %s failed: %s", payout.id, payout.contest_id, reason)


def _note(session: AsyncSession, payout: Payout, action: str, details: dict[str, object]) -> None:
    session.add(AuditEntry(actor="system", action=action, target=f"payout:{payout.id}", details={
        "contest": payout.contest_id, "amount": payout.amount, "currency": payout.currency, **details}))

