"""Payouts to a contest's organiser, out of its settlement's balance.

- The account: a mobile-money wallet of a provider that charges one (MTN's, Orange's), kept only once its number
  answered a code texted to it (the admin area checks the code and says so: `proven`), or a bank account, paid by
  hand. A payout keeps the account it was
  requested to, so changing the account later never redirects money already asked for.
- A request names an amount in one of the contest's currencies, up to its balance (net payable less what was paid
  out and what is under way) less the payments not verified yet (a status call may still take those back).
  Requests are serialised on the contest's row: two at once never both spend the same balance.
- An owner approves it (four eyes: never its requester; the admin area checks the approver's TOTP code first) or
  declines it. Approved, it goes out by the wallet's provider's API where that provider pays out and its API is set
  up here (`Capability.PAYOUTS`: MTN's Disbursement `transfer`; gateway.core.money_out.payouts_sent sends and
  follows it, as refunds are), or waits to be paid by hand and marked paid with the transfer's proof (a bank's
  reference).
- A payout refused for good by the provider, or declined, gives its amount back to the balance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.contests.scope import contest_in_scope
from gateway.core.errors import Conflict, DomainError, Forbidden, NotFound
from gateway.core.money_out.settlements import figures_of
from gateway.core.providers import Providers
from gateway.db.engine import Sessions
from gateway.db.models import BANK_ACCOUNT, Contest, Payout, PayoutAccount, PayoutState

MAX_BANK_DETAILS = 500
STARS = "XTR"  # Telegram's currency: the platform withdraws it, no provider pays it out


@dataclass(frozen=True)
class AccountDraft:
    """What an organiser enters: a wallet (its number already proven) or a bank account."""

    kind: str  # BANK_ACCOUNT, or the wallet's provider
    holder: str
    msisdn: str | None = None  # E.164
    bank_details: str | None = None
    proven: bool = False  # the wallet's number answered the code


def checked_account(draft: AccountDraft) -> AccountDraft:
    """A draft that can be kept, or why not (pure)."""
    holder = " ".join(draft.holder.split())
    if not 2 <= len(holder) <= 200:
        raise DomainError("The account holder's name: 2 to 200 characters.", code="invalid_field", field="holder")
    if draft.kind == BANK_ACCOUNT:
        details = (draft.bank_details or "").strip()
        if not 6 <= len(details) <= MAX_BANK_DETAILS:
            raise DomainError("The bank, the account number (or IBAN) and the branch: 6 to 500 characters.",
                              code="invalid_field", field="bank_details")
        return AccountDraft(draft.kind, holder, None, details, False)
    if draft.msisdn is None or not draft.proven:
        raise DomainError("A wallet's number is kept once it answered the code we text to it.",
                          code="number_not_proven", field="msisdn")
    return AccountDraft(draft.kind, holder, draft.msisdn, None, True)


async def set_account(sessions: Sessions, actor: Actor, contest_id: int, draft: AccountDraft) -> None:
    account = checked_account(draft)
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        kept = await session.get(PayoutAccount, contest.id)
        before = None if kept is None else _account_facts(kept)
        if kept is None:
            kept = PayoutAccount(contest_id=contest.id)
            session.add(kept)
        kept.kind, kept.holder, kept.msisdn, kept.bank_details = (account.kind, account.holder, account.msisdn,
                                                                  account.bank_details)
        kept.proven_at, kept.set_by = (None if account.kind == BANK_ACCOUNT else datetime.now(UTC),
                                       actor.email)
        await audit.record(session, actor, "payout.account", f"contest:{contest.id}", before=before,
                           after=_account_facts(kept))


def _account_facts(account: PayoutAccount) -> dict[str, object]:
    return {"kind": account.kind, "holder": account.holder, "msisdn": account.msisdn,
            "bank_details": account.bank_details}


async def account_of(sessions: Sessions, actor: Actor, contest_id: int) -> PayoutAccount | None:
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        return await session.get(PayoutAccount, contest.id)


async def request_payout(sessions: Sessions, actor: Actor, contest_id: int, currency: str, amount: int) -> Payout:
    """Ask for `amount` of the contest's balance in `currency`, to its payout account, for an owner to approve."""
    currency = currency.strip().upper()
    if amount <= 0:
        raise DomainError("A payout of more than 0.", code="invalid_field", field="amount")
    if currency == STARS:
        raise DomainError("Stars are withdrawn from Telegram by the bot's owner (Fragment), not paid to an account.",
                          code="not_payable", field="currency")
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)  # one request or approval at a time
        account = await session.get(PayoutAccount, contest.id)
        if account is None:
            raise Conflict("Set the contest's payout account first.", code="no_payout_account")
        payable = await _payable(session, contest, currency)
        if amount > payable:
            raise Conflict(f"The balance is {payable} {currency}, once what is not verified yet or held for review "
                           "is set aside: a payout cannot be more.", code="over_balance", field="amount")
        payout = Payout(id=uuid.uuid4(), contest_id=contest.id, amount=amount, currency=currency, kind=account.kind,
                        msisdn=account.msisdn, holder=account.holder, bank_details=account.bank_details,
                        state=PayoutState.AWAITING_APPROVAL, requested_by=actor.email)
        session.add(payout)
        await session.flush()
        await audit.record(session, actor, "payout.request", f"payout:{payout.id}",
                           details={"contest": contest.id, "amount": amount, "currency": currency,
                                    "to": account.msisdn or account.holder})
    return payout


async def _payable(session: AsyncSession, contest: Contest, currency: str) -> int:
    """The balance less what is not verified yet or held for review (`CurrencyStatement.payable`)."""
    for money in await figures_of(session, contest):
        if money.currency == currency:
            return money.payable
    return 0


async def approve_payout(sessions: Sessions, registry: Providers, actor: Actor, contest_id: int,
                         payout_id: uuid.UUID) -> Payout:
    """An owner who did not ask for it approves it (the approver's TOTP code is checked before this)."""
    async with sessions.begin() as session:
        payout, contest = await _awaiting(session, actor, contest_id, payout_id)
        if payout.requested_by == actor.email:
            raise Forbidden("Another owner approves a payout: not the person who asked for it.", code="four_eyes")
        if await _payable(session, contest, payout.currency) < 0:  # refunds or take-backs since the request
            raise Conflict("The balance no longer covers this payout (refunds, or payments not verified yet): wait "
                           "for the verification, or decline it and ask for less.", code="over_balance")
        by_api = registry.payout_sender(payout.kind) is not None  # its wallet's provider pays out, set up here
        payout.state = PayoutState.REQUESTED if by_api else PayoutState.BY_HAND
        payout.approved_by, payout.approved_at, payout.due_at = actor.email, datetime.now(UTC), datetime.now(UTC)
        await audit.record(session, actor, "payout.approve", f"payout:{payout.id}",
                           details={"amount": payout.amount, "currency": payout.currency, "by": payout.state.value})
    return payout


async def decline_payout(sessions: Sessions, actor: Actor, contest_id: int, payout_id: uuid.UUID, reason: str
                         ) -> None:
    async with sessions.begin() as session:
        payout, _ = await _awaiting(session, actor, contest_id, payout_id)
        payout.state, payout.decided_at, payout.provider_reason = PayoutState.DECLINED, datetime.now(UTC), reason
        await audit.record(session, actor, "payout.decline", f"payout:{payout.id}", details={"reason": reason})


async def mark_paid(sessions: Sessions, actor: Actor, contest_id: int, payout_id: uuid.UUID, proof: str) -> None:
    """A payout paid by hand, with the transfer's proof (the bank's reference): it leaves the balance for good."""
    proof = proof.strip()
    if not 3 <= len(proof) <= 500:
        raise DomainError("The transfer's proof: its reference at the bank, 3 to 500 characters.",
                          code="invalid_field", field="proof")
    async with sessions.begin() as session:
        payout = await _owned(session, actor, contest_id, payout_id)
        if payout.state is not PayoutState.BY_HAND:
            raise Conflict(f"This payout is {payout.state.value}: only one approved to be paid by hand is marked paid.",
                           code="not_by_hand")
        payout.state, payout.proof, payout.decided_at = PayoutState.SUCCEEDED, proof, datetime.now(UTC)
        await audit.record(session, actor, "payout.paid_by_hand", f"payout:{payout.id}", details={"proof": proof})


async def _owned(session: AsyncSession, actor: Actor, contest_id: int, payout_id: uuid.UUID) -> Payout:
    """The payout, locked, if it is one of the contest the caller named (its page's URL): a payout of another
    contest is not found there, so no decision taken on one contest's page ever moves another's money."""
    if actor.role != "owner":
        raise Forbidden("Only an owner decides payouts.", code="forbidden")
    # populate_existing: read again under the lock (an approval that waited on another sees what it decided)
    payout = await session.get(Payout, payout_id, with_for_update=True, populate_existing=True)
    if payout is None or payout.contest_id != contest_id:
        raise NotFound("No such payout.", code="payout_not_found")
    return payout


async def _awaiting(session: AsyncSession, actor: Actor, contest_id: int, payout_id: uuid.UUID
                    ) -> tuple[Payout, Contest]:
    contest = await contest_in_scope(session, actor, contest_id, lock=True)  # the contest's lock first, as requests
    payout = await _owned(session, actor, contest.id, payout_id)
    if payout.state is not PayoutState.AWAITING_APPROVAL:
        raise Conflict(f"This payout is {payout.state.value}: decided already.", code="payout_decided")
    return payout, contest


async def payouts_of(sessions: Sessions, actor: Actor, contest_id: int, last: int = 20) -> Sequence[Payout]:
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        return list((await session.scalars(select(Payout).where(Payout.contest_id == contest.id)
                                           .order_by(Payout.created_at.desc()).limit(last))).all())
