"""A platform account's balance at a provider against the books, between two readings.

The books cannot say what an account holds: it held money before the first vote, and people move money in and out
of it by hand (a sweep to the bank, a top-up of the account payouts draw on, the provider's fees). What they can say
is how the balance must have *moved* between two readings: by the net of every payment, refund and payout decided
through that account in between. So each reading keeps the balance and the books' net at that moment; what the
account holds besides the books' movements (its *offset*) must stay the same from one reading to the next.

Two things blur it, and neither is a difference:

- money on its way: a payment the provider took whose callback has not reached us, a payout the provider debited
  before saying it succeeded. At each reading the offset is only known within a range (`Reading.offsets`);
- a difference the per-reference check found in the same pass (the provider moved another amount than the books
  say): it moves the balance by its own size, which `effect_on` gives, and is listed already.

A gap outside all that is a difference for a person: money moved in the account that no record of ours explains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money_out.money_check import Difference
from gateway.core.money_out.settlements import MONEY_IN
from gateway.db.models import OrderStatus, Payout, PayoutState, Refund, RefundState, VoteOrder

Account = Literal["collection", "disbursement"]
ON_THE_WAY_OUT_REFUNDS = (RefundState.REQUESTED, RefundState.SENT)  # a send cut short may have reached it
ON_THE_WAY_OUT_PAYOUTS = (PayoutState.REQUESTED, PayoutState.SENT)


@dataclass(frozen=True)
class AccountBooks:
    """What the books say moved through one account, in minor units of one currency."""

    net: int  # every movement decided: payments in, refunds and payouts out (negative)
    maybe_in: int = 0  # on its way in: perhaps in the balance already
    maybe_out: int = 0  # on its way out: perhaps gone from the balance already


@dataclass(frozen=True)
class Reading:
    balance: int
    books: AccountBooks

    def offsets(self) -> tuple[int, int]:
        """The lowest and highest the account's offset (its balance less the books' net) can be."""
        offset = self.balance - self.books.net
        return offset - self.books.maybe_in, offset + self.books.maybe_out


def unexplained(before: Reading, now: Reading, explained: int = 0) -> int:
    """How far the balance moved beyond the books since `before` (0: within what was on its way), once `explained`
    (what differences found meanwhile moved it, `effect_on`) is set aside. Positive: more money than the books."""
    low_before, high_before = before.offsets()
    low_now, high_now = (offset - explained for offset in now.offsets())
    if low_now > high_before:
        return low_now - high_before
    if high_now < low_before:
        return high_now - low_before
    return 0


def effect_on(account: Account, currency: str, differences: list[Difference]) -> int:
    """How much the provider moved in `account` beyond what the books say, by these differences."""
    total = 0
    for gap in differences:
        in_this_account = (gap.entry.kind == "payment") == (account == "collection")
        if not in_this_account or gap.entry.currency != currency:
            continue
        provider_moved = (gap.word.amount if gap.word.amount is not None else gap.entry.amount) if gap.word.moved else 0
        books_moved = gap.entry.amount if gap.entry.moved else 0
        sign = 1 if account == "collection" else -1  # a refund or payout takes money out of its account
        total += sign * (provider_moved - books_moved)
    return total


async def account_books(session: AsyncSession, provider: str, account: Account, currency: str) -> AccountBooks:
    """The books' net through `provider`'s `account` in `currency`, and what is on its way, now."""
    if account == "collection":
        paid = await session.scalar(select(func.coalesce(func.sum(VoteOrder.amount), 0)).where(
            VoteOrder.provider == provider, VoteOrder.currency == currency, VoteOrder.status.in_(MONEY_IN)))
        asked = await session.scalar(select(func.coalesce(func.sum(VoteOrder.amount), 0)).where(
            VoteOrder.provider == provider, VoteOrder.currency == currency, VoteOrder.status == OrderStatus.PENDING,
            VoteOrder.payment_started_at.is_not(None)))
        return AccountBooks(int(paid or 0), maybe_in=int(asked or 0))
    refunds = await session.execute(select(Refund.state, func.sum(Refund.amount)).where(
        Refund.provider == provider, Refund.currency == currency,
        Refund.state.in_((RefundState.SUCCEEDED, *ON_THE_WAY_OUT_REFUNDS))).group_by(Refund.state))
    out = {str(state): int(total) for state, total in refunds}
    payouts = await session.execute(select(Payout.state, func.sum(Payout.amount)).where(
        Payout.kind == provider, Payout.currency == currency, Payout.msisdn.is_not(None),
        Payout.proof.is_(None), Payout.state.in_((PayoutState.SUCCEEDED, *ON_THE_WAY_OUT_PAYOUTS)))
        .group_by(Payout.state))
    for state, total in payouts:
        out[str(state)] = out.get(str(state), 0) + int(total)
    # Both tables name their states alike: "succeeded", and "requested" or "sent" on the way.
    on_the_way = sum(total for state, total in out.items() if state != str(RefundState.SUCCEEDED))
    return AccountBooks(-out.get(str(RefundState.SUCCEEDED), 0), maybe_out=on_the_way)
