"""Money paid in that no order of ours asked for, naming a candidate itself: a payment into a contest's paybill from
the wallet's own menu, its account number the candidate's code. The order is written for it when its word comes,
and counted once per provider receipt.

The money has moved already, so nothing here may refuse it quietly. The order's `client_key` is the provider's
receipt (a second word of one payment finds the order the first wrote, and the counting statement, guarded by the
order's status, counts it once), and the order keeps the receipt as its transaction id. It buys `amount // price`
votes. What buys no whole vote (a remainder, an amount under one vote's price, a payment while voting was not open)
is never kept in silence: the order is held, as a fraud rule holds one (gateway.core.fraud.holds), for a person to
count or reject; or, where the contest says so, rejected at once, so the money is owed back as any rejected order's
is (the provider's own API where it refunds so, else the review queue). A provider that gives a payment back whole
gives back the votes with it. An account number that names no candidate cannot be an order (an order buys a
candidate's votes): the provider's validation refuses it before the money moves; one that slipped through is kept as
an audit entry and is a payment naming no order of ours in the day's books (gateway.core.money_out.money_check).

What counts it: the provider's word on a URL only it knows (`verify_later`: checked again against its statement by
the verification queue, a disagreement taking the votes back off and flagging the order), or its statement itself.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.contests import late_votes
from gateway.core.contests.price_tiers import PriceTier, tiers_of, votes_bought
from gateway.core.contests.rules import VotingState, voting_state
from gateway.core.fraud import holds
from gateway.core.money import money_text
from gateway.core.orders import counting
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import (
    AuditEntry,
    Candidate,
    CandidateStatus,
    Contest,
    ContestRound,
    ContestStatus,
    ProviderEvent,
    RoundBaseline,
    RoundStatus,
    VoteOrder,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "unasked"  # client_key: "unasked:<provider>:<receipt>"
HOLD, REFUND = "hold", "refund"  # what becomes of money that buys no whole vote (the contest's rule)


class AccountRefusal(StrEnum):
    UNKNOWN_ACCOUNT = "unknown_account"  # names no active candidate of the contest
    BELOW_PRICE = "below_price"  # buys not one vote
    NOT_WHOLE_VOTES = "not_whole_votes"  # leaves a remainder where the contest gives such money back
    NOT_OPEN = "not_open"  # voting is closed, paused or not started
    NOT_OURS = "not_ours"  # no such contest here, or another currency


class UnaskedOutcome(StrEnum):
    COUNTED = "counted"
    HELD = "held"  # for a person: buys no whole vote, or a fraud rule held it
    REFUND_OWED = "refund_owed"  # buys no whole vote and the contest gives such money back
    ALREADY = "already"  # an earlier word of this payment wrote its order
    UNMATCHED = "unmatched"  # names no candidate: no order, kept for a person


@dataclass(frozen=True)
class UnaskedPayment:
    """A payment into a contest's paybill, as its provider tells it."""

    provider: str
    channel: str  # the order's channel: how it was paid (the provider's name for it)
    contest_id: int | None  # None: the paybill is no contest's (kept for a person, `note_unmatched`)
    account: str  # what the payer typed as the account number
    amount: int  # minor units of `currency`
    currency: str
    receipt: str  # the provider's transaction id
    msisdn: str | None = None  # E.164, where the provider gives the number whole
    payer_ref: str | None = None  # a stable pseudonym of the payer, where the provider gives only that
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    source: str = "confirmation"  # what told us (kept on the event: "confirmation", "statement")
    body: str = ""  # the provider's own words, kept raw
    paid_at: datetime | None = None  # when the money moved, as the provider tells it (None: when its word came)


def typed_code(typed: str | None) -> str:
    """What was typed as a code, without what people add around it (spaces, dashes, dots, #), upper case. Pure."""
    return re.sub(r"[\s\-_.#]", "", typed or "").upper()


def same_account(one: str | None, other: str | None) -> bool:
    """Whether two typed account numbers name one code, read as `account_code` reads them ("4" and "04"). Pure."""
    code = typed_code(other)
    return bool(code) and account_code(one or "", [code]) is not None


def account_code(typed: str, codes: Sequence[str]) -> str | None:
    """The candidate code a payer meant, typing it as people do: spaces and dashes, any case, leading zeros added
    or left out ("7", "007" and " 07" are "07" where the contest's codes are two digits). None when it names none,
    or more than one. Pure."""
    cleaned = typed_code(typed)
    if not cleaned:
        return None
    exact = [code for code in codes if code.upper() == cleaned]
    if exact:
        return exact[0]
    if not cleaned.isdigit():
        return None
    by_number = [code for code in codes if code.isdigit() and int(code) == int(cleaned)]
    return by_number[0] if len(by_number) == 1 else None


@dataclass(frozen=True)
class AccountVerdict:
    code: str | None
    refusal: AccountRefusal | None
    price: int | None = None  # one vote's, in minor units of the contest's currency (None: no contest)


async def check_account(sessions: Sessions, contest_id: int, typed: str, amount: int, currency: str,
                        now: datetime | None = None, *, whole_votes_only: bool = False) -> AccountVerdict:
    """Whether a payment about to be made (the provider's validation, before money moves) would buy votes: the
    candidate it names, else why not. `whole_votes_only`: the contest gives back a payment that buys no whole
    number of votes, and the provider can give back only the whole payment, so a remainder is refused now rather
    than taken and reversed whole."""
    async with autocommit(sessions) as session:
        contest = await session.get(Contest, contest_id)
        codes = list(await session.scalars(select(Candidate.code).where(
            Candidate.contest_id == contest_id, Candidate.status == CandidateStatus.ACTIVE)))
    if contest is None or contest.currency.upper() != currency.upper():
        return AccountVerdict(None, AccountRefusal.NOT_OURS)
    code = account_code(typed, codes)
    if code is None:
        return AccountVerdict(None, AccountRefusal.UNKNOWN_ACCOUNT)
    if voting_state(contest.status, contest.opens_at, contest.closes_at, now or datetime.now(UTC)) \
            is not VotingState.OPEN:
        return AccountVerdict(code, AccountRefusal.NOT_OPEN)
    price = contest.price_per_vote
    votes, left = votes_bought(amount, price, tiers_of(contest.price_tiers))
    if votes == 0:
        return AccountVerdict(code, AccountRefusal.BELOW_PRICE, price)
    if whole_votes_only and left:
        return AccountVerdict(code, AccountRefusal.NOT_WHOLE_VOTES, price)
    return AccountVerdict(code, None, price)


def why_held(amount: int, price: int, currency: str, voting: VotingState,
             tiers: Sequence[PriceTier] = ()) -> str | None:
    """Why a payment for a known candidate buys no whole votes alone (None: it buys exactly what `votes_bought`
    says: a bundle's votes for a bundle's amount, else whole votes at the price). Pure."""
    paid = money_text(amount, currency)
    if voting is not VotingState.OPEN:
        return f"paid {paid} into the paybill while voting was {voting.value}: no vote counts by itself"
    votes, left = votes_bought(amount, price, tiers)
    if votes == 0:
        return f"paid {paid} into the paybill, under one vote's price ({money_text(price, currency)})"
    if left:
        return (f"paid {paid} into the paybill: {votes} votes at {money_text(price, currency)} and "
                f"{money_text(left, currency)} more")
    return None


async def settle_unasked(sessions: Sessions, payment: UnaskedPayment, *, remainder: str, verify_later: bool,
                         now: datetime | None = None) -> tuple[UnaskedOutcome, uuid.UUID | None]:
    """Write the payment's order (once per receipt) and count it, hold it or owe it back (see the module)."""
    now = now or datetime.now(UTC)
    paid_at = min(payment.paid_at or now, now)
    async with autocommit(sessions) as session:
        contest = None if payment.contest_id is None else await session.get(Contest, payment.contest_id)
        earlier = await decided_round(session, contest, paid_at) if contest is not None else None
        candidates = earlier.candidates if earlier is not None else {c.code: c.id for c in await session.scalars(
            select(Candidate).where(Candidate.contest_id == payment.contest_id,
                                    Candidate.status == CandidateStatus.ACTIVE))}
    code = account_code(payment.account, list(candidates)) if contest is not None else None
    if contest is None or code is None or contest.currency.upper() != payment.currency.upper():
        await note_unmatched(sessions, payment)
        return UnaskedOutcome.UNMATCHED, None
    # At the price of its round: the round open now may sell votes at another.
    price = earlier.price_per_vote if earlier is not None else contest.price_per_vote
    tiers = tiers_of(earlier.price_tiers if earlier is not None else contest.price_tiers)
    if earlier is not None:  # its round's figures are final: the money is a person's to count there or give back
        hold_reason: str | None = (f"paid {money_text(payment.amount, payment.currency)} into the paybill during "
                                   f"{earlier.name}, which was decided before the payment's word came")
    else:
        async with autocommit(sessions) as session:
            voting = await voting_when(session, contest, paid_at)
        hold_reason = why_held(payment.amount, price, contest.currency, voting, tiers)
    votes, _ = votes_bought(payment.amount, price, tiers)
    order_id = await write_order(sessions, payment, candidates[code], max(votes, 1), hold_reason, now,
                                 round_id=earlier.round_id if earlier is not None else None)
    written = order_id is not None
    order_id = order_id or await order_of_receipt(sessions, payment.provider, payment.receipt)
    if order_id is None:
        return UnaskedOutcome.ALREADY, None
    # Confirmed again when an earlier word wrote the order: a crash may have left it pending, and the counting
    # statement, guarded by the order's status, counts it once whatever word comes next.
    outcome = await counting.confirm_payment(
        sessions, order_id, f"{payment.source}:paid", payment.amount, payment.currency.upper(), payment.receipt,
        provider=payment.provider, verify_later=verify_later)
    if not written and outcome not in (ConfirmOutcome.COUNTED, ConfirmOutcome.HELD):
        return UnaskedOutcome.ALREADY, order_id
    await keep_event(sessions, payment, order_id, outcome.value)
    if outcome is ConfirmOutcome.HELD and hold_reason is not None and remainder == REFUND:
        await holds.reject_held(sessions, order_id, actor="system",
                                reason=f"{hold_reason}; the contest gives such payments back")
        return UnaskedOutcome.REFUND_OWED, order_id
    return (UnaskedOutcome.HELD if outcome is ConfirmOutcome.HELD else UnaskedOutcome.COUNTED), order_id


async def voting_when(session: AsyncSession, contest: Contest, at: datetime) -> VotingState:
    """Whether voting was open when the money moved (its word may come minutes later, from the statement): a contest
    closed by hand was open until its close (gateway.core.contests.late_votes), as it stood before it (a paused one
    stayed paused)."""
    close = await late_votes.lines_close(session, contest)
    status = contest.status if contest.status is not ContestStatus.CLOSED else close.status_before
    return voting_state(status, contest.opens_at, close.at, at)


@dataclass(frozen=True)
class DecidedRound:
    """The round a payment's money moved in, decided before its word came."""

    round_id: int
    name: str
    candidates: dict[str, int]  # by code: those the round began with, eliminated since or not
    price_per_vote: int
    price_tiers: list[dict[str, int]]


async def decided_round(session: AsyncSession, contest: Contest, paid_at: datetime) -> DecidedRound | None:
    """In a show in rounds, the round whose lines the money moved in when that round is decided already: its word
    came between rounds, or once the next round opened (the statement finds a lost confirmation minutes later). It
    is that round's money, never the next round's, and no longer counts by itself. None: a show of one round, the
    round open now, or money that moved before any round opened (voting was not open: `voting_when`)."""
    if contest.current_round_id is None:
        return None
    row = (await session.scalars(select(ContestRound).where(
        ContestRound.contest_id == contest.id, ContestRound.opened_at <= paid_at)
        .order_by(ContestRound.number.desc()).limit(1))).first()
    if row is None or row.status is not RoundStatus.DECIDED:
        return None
    began = await session.execute(select(Candidate.code, Candidate.id).join(
        RoundBaseline, RoundBaseline.candidate_id == Candidate.id).where(RoundBaseline.round_id == row.id))
    return DecidedRound(row.id, row.name, {str(code): int(candidate) for code, candidate in began},
                        row.price_per_vote, list(row.price_tiers))


def client_key(provider: str, receipt: str) -> str:
    return f"{KEY_PREFIX}:{provider}:{receipt}"[:200]


async def write_order(sessions: Sessions, payment: UnaskedPayment, candidate_id: int, quantity: int,
                      hold_reason: str | None, now: datetime, round_id: int | None = None) -> uuid.UUID | None:
    """The payment's order, pending until the counting statement decides it; None when its receipt wrote one
    already. It belongs to `round_id`, by default the round open now."""
    async with sessions.begin() as session:
        return await session.scalar(insert(VoteOrder).values(
            id=uuid.uuid4(), payment_reference=uuid.uuid4(), client_key=client_key(payment.provider, payment.receipt),
            contest_id=payment.contest_id, candidate_id=candidate_id, quantity=quantity, amount=payment.amount,
            round_id=round_id if round_id is not None else select(Contest.current_round_id)
            .where(Contest.id == payment.contest_id).scalar_subquery(),
            currency=payment.currency.upper(), channel=payment.channel, sends_receipt=False,
            provider=payment.provider, voter_msisdn=payment.msisdn, voter_ref=payment.payer_ref,
            provider_data=dict(payment.provider_data), hold_reason=hold_reason, payment_started_at=now,
            start_attempted_at=now, expires_at=now + timedelta(days=1),
        ).on_conflict_do_nothing(index_elements=["client_key"]).returning(VoteOrder.id))


async def order_of_receipt(sessions: Sessions, provider: str, receipt: str) -> uuid.UUID | None:
    async with autocommit(sessions) as session:
        return await session.scalar(select(VoteOrder.id).where(VoteOrder.client_key == client_key(provider, receipt)))


async def keep_event(sessions: Sessions, payment: UnaskedPayment, order_id: uuid.UUID | None, outcome: str) -> None:
    """The provider's word kept as it came, once per receipt and source."""
    async with sessions.begin() as session:
        await session.execute(insert(ProviderEvent).values(
            provider=payment.provider, event_id=f"{KEY_PREFIX}:{payment.source}:{payment.receipt}"[:200],
            order_id=order_id, kind=f"{KEY_PREFIX}.{payment.source}", body=payment.body, outcome=outcome[:100],
        ).on_conflict_do_nothing(index_elements=["provider", "event_id"],
                                 index_where=ProviderEvent.event_id.is_not(None)))


async def note_unmatched(sessions: Sessions, payment: UnaskedPayment) -> None:
    """Money naming no candidate of the contest (or paid where no contest takes votes): kept raw and audited once
    per receipt, for a person (the day's books list it too, as a payment naming no order of ours)."""
    await keep_event(sessions, payment, None, UnaskedOutcome.UNMATCHED.value)
    async with sessions.begin() as session:
        seen = await session.scalar(select(AuditEntry.id).where(AuditEntry.action == "payment.unmatched",
                                                                AuditEntry.target == payment.receipt).limit(1))
        if seen is None:
            session.add(AuditEntry(actor="system", action="payment.unmatched", target=payment.receipt[:200], details={
                "provider": payment.provider, "contest_id": payment.contest_id, "account": payment.account[:40],
                "amount": payment.amount, "currency": payment.currency}))
    log.warning("a %s payment %s into contest %s names no candidate (%r): kept for a person", payment.provider,
                payment.receipt, payment.contest_id, payment.account[:40])
