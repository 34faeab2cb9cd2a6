"""An entry's fee, paid as a vote is: an order that buys the entry instead of votes.

The fee goes through everything a vote's payment does (the provider's start, its callbacks, their
verification, the reconciler, a person's review), so it is kept exactly as safely; what differs is only
what its payment moves. A vote's payment moves the ledger and the tally; a fee's marks its entry paid
(`entries.fee_paid_at`), in the same statement, and takes that mark back where a vote's would leave the
tally. A fee is on no ledger: the ledger is the public record of *votes*, and a fee buys none.

A call's fee is paid by the contest's own payment means, minus those paid in a chat (Stars: the entry is made on
the web, where Telegram's rules do not reach, and Stars are a chat's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CTE, ColumnElement, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core.contests.rules import check_payer
from gateway.core.entries.entry_slots import check_place, lock_call
from gateway.core.errors import Conflict, NotFound
from gateway.core.media.uploads import MEDIA_ACCESS_TOPIC
from gateway.core.providers import Capability, Providers
from gateway.db.engine import Sessions
from gateway.db.models import (
    AuditEntry,
    Candidate,
    CandidateStatus,
    Contest,
    Entry,
    EntryCall,
    EntryStatus,
    OrderStatus,
    OutboxMessage,
    VoteOrder,
)

FEE_PAID_TOPIC = "entry.fee_paid"
ENTRIES = Entry.__table__


@dataclass(frozen=True)
class EntryFee:
    """What an entry's candidate sees of its fee."""

    amount: int  # minor units of `currency`
    currency: str
    providers: tuple[str, ...]  # the means it may be paid by
    paid: bool
    waiting_order: uuid.UUID | None  # a payment under way, whose page shows how it goes


def fee_paid_from(entry_id: ColumnElement[Any], is_paid: ColumnElement[bool]) -> CTE:
    """In the counting statement: the entry whose fee the order just paid is marked paid (kept from the first)."""
    return (update(ENTRIES).where(ENTRIES.c.id == entry_id, is_paid)
            .values(fee_paid_at=func.coalesce(ENTRIES.c.fee_paid_at, func.now()))
            .returning(ENTRIES.c.id).cte("fee_paid"))


async def set_fee_paid(session: AsyncSession | AsyncConnection, order: VoteOrder, *, paid: bool) -> None:
    """A fee's payment counted by a person (paid) or taken back (a refund, a chargeback, a provider's
    disagreement): taken back, an entry approved on it leaves the contest in the same transaction."""
    assert order.entry_id is not None
    if paid:
        await session.execute(update(Entry).where(Entry.id == order.entry_id, Entry.fee_paid_at.is_(None))
                              .values(fee_paid_at=func.now()))
        return
    await session.execute(update(Entry).where(Entry.id == order.entry_id).values(fee_paid_at=None))
    await withdraw_unpaid_candidate(session, order)


async def withdraw_unpaid_candidate(session: AsyncSession | AsyncConnection, order: VoteOrder) -> None:
    """The candidate an entry became, hidden once the fee it was approved on is no longer paid: off the board
    and the menus, no more votes, its clip withheld (as an organiser's hiding does), and audited. Hidden rather
    than removed: the votes it had stay on the ledger, and the organiser may show it again (a fee paid anew)."""
    row = (await session.execute(
        select(Candidate.id, Candidate.status, Candidate.clip_id, Candidate.photo_id)
        .join(Entry, Entry.candidate_id == Candidate.id)
        .where(Entry.id == order.entry_id, Entry.status == EntryStatus.APPROVED).with_for_update(of=Candidate)
    )).one_or_none()
    if row is None or row.status is CandidateStatus.HIDDEN:
        return
    await session.execute(update(Candidate).where(Candidate.id == row.id).values(status=CandidateStatus.HIDDEN))
    await session.execute(insert(AuditEntry).values(
        actor="system", action="candidate.withdrawn", target=f"candidate:{row.id}",
        before={"status": row.status.value}, after={"status": CandidateStatus.HIDDEN.value},
        details={"entry": str(order.entry_id), "order": str(order.id), "order_status": order.status.value,
                 "reason": "the entry fee it was approved on was refunded or taken back"}))
    # the storage withholds them once this commits (gateway.core.media.uploads)
    for upload_id in (row.clip_id, row.photo_id):
        if upload_id is not None:
            await session.execute(insert(OutboxMessage).values(topic=MEDIA_ACCESS_TOPIC,
                                                               payload={"upload_id": str(upload_id)}))


def fee_providers(contest: Contest, providers: Providers) -> tuple[str, ...]:
    return tuple(provider for provider in contest.providers
                 if Capability.IN_CHAT not in providers.capabilities(provider))


async def entry_fee(session: AsyncSession, entry: Entry, providers: Providers) -> EntryFee | None:
    """The entry's fee as its call asks it (None: entering is free); `providers` say which are paid in a chat."""
    call = await session.get(EntryCall, entry.contest_id)
    contest = await session.get(Contest, entry.contest_id)
    if call is None or contest is None or call.fee_amount is None:
        return None
    waiting = await session.scalar(select(VoteOrder.id).where(VoteOrder.entry_id == entry.id,
                                                              VoteOrder.status == OrderStatus.PENDING))
    return EntryFee(call.fee_amount, contest.currency, fee_providers(contest, providers), entry.fee_paid_at is not None,
                    waiting)


@dataclass(frozen=True)
class FeeRequest:
    entry_id: uuid.UUID
    provider: str
    msisdn: str | None  # the payer's number (mobile money); may be another's than the candidate's
    channel: str


async def place_entry_fee(sessions: Sessions, providers: Providers, request: FeeRequest, *, pending_ttl: timedelta,
                          now: datetime | None = None) -> VoteOrder:
    """A pending order for the entry's fee; the one already waiting when it is the same means of payment
    (a reload or a second tap starts nothing new). The caller has proven the candidate (the entry's link)."""
    now = now or datetime.now(UTC)
    try:
        async with sessions.begin() as session:
            contest_id = await session.scalar(select(Entry.contest_id).where(Entry.id == request.entry_id))
            call = await lock_call(session, contest_id) if contest_id is not None else None  # before the entry
            entry = await session.get(Entry, request.entry_id, with_for_update=True)
            if entry is None or call is None:
                raise NotFound("No entry at this link.", code="entry_not_found")
            fee = await entry_fee(session, entry, providers)
            if fee is None:
                raise Conflict("Entering this contest is free.", code="no_entry_fee")
            if fee.paid:
                raise Conflict("The entry fee is paid already.", code="fee_paid")
            if entry.status is not EntryStatus.PENDING:
                raise Conflict("This entry was decided already.", code="entry_decided")
            contest = await session.get(Contest, entry.contest_id)  # read by entry_fee: its country, as a vote's
            payer = check_payer(request.provider, providers.capabilities(request.provider), fee.providers,
                                request.msisdn, contest.country if contest is not None else None)
            if fee.waiting_order is not None:
                waiting = await session.get(VoteOrder, fee.waiting_order)
                assert waiting is not None
                if waiting.provider == request.provider:
                    return waiting
                raise Conflict("A payment of the fee is under way already: finish it, or wait until it expires.",
                               code="fee_payment_waiting")
            await check_place(session, call, entry, now)  # its hold ran out: a place must be free to pay
            order = VoteOrder(
                id=uuid.uuid4(), payment_reference=uuid.uuid4(), contest_id=entry.contest_id, entry_id=entry.id,
                quantity=1, amount=fee.amount, currency=fee.currency, channel=request.channel,
                sends_receipt=False, provider=request.provider, voter_msisdn=payer, status=OrderStatus.PENDING,
                expires_at=now + pending_ttl, provider_data={}, language=entry.language)
            session.add(order)
            await session.flush()
    except IntegrityError:  # a concurrent tap placed one first (one waits at a time)
        raise Conflict("A payment of the fee is under way already: finish it, or wait until it expires.",
                       code="fee_payment_waiting") from None
    return order
