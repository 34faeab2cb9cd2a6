"""The platform's account balances at a provider, read and set against the books (gateway.core.money_out.balance_books),
by `gateway reconcile money` and by the worker every hour. Each reading is kept (`provider_balances`); one that moved
beyond the books since the one before is a difference, kept in the audit log (`money.difference`, as the per-reference
differences, so an owner sees it on the settlement page) and printed. The first reading of an account is its starting
point: nothing to compare it with yet.

The books are read before the balance: whatever is decided between the two reads was on its way at the first,
and the reading allows for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text, union
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money_out.balance_books import Account, AccountBooks, Reading, account_books, effect_on, unexplained
from gateway.core.money_out.money_check import Difference
from gateway.core.providers import AccountBalance, BalanceInOtherCurrency, PaymentError, Providers
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, Payout, ProviderBalance, Refund, VoteOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BalanceReport:
    provider: str
    account: str
    currency: str
    balance: int | None  # None: the provider did not answer (read at the next pass)
    gap: int | None = None  # None: the account's first reading; else how far it moved beyond the books
    explained: int = 0  # what the differences this pass found moved it by
    answered: str | None = None  # the currency the provider answered in, when not the one asked: nothing compared

    def summary(self) -> str:
        if self.answered is not None:
            return (f"{self.provider} {self.account} account: asked {self.currency}, {self.provider} answered "
                    f"{self.answered}: not compared")
        where = f"{self.provider} {self.account} account, {self.currency}"
        if self.balance is None:
            return f"{where}: balance not read (try again later)"
        if self.gap is None:
            return f"{where}: {self.balance} held; first reading, the next ones are compared with it"
        if self.gap:
            more = "more" if self.gap > 0 else "less"
            return (f"{where}: {self.balance} held, {abs(self.gap)} {more} than the books explain since the last "
                    "reading (money moved by hand? a fee?)")
        because = f", given the difference(s) above ({self.explained:+d})" if self.explained else ""
        return f"{where}: {self.balance} held, moved as the books did since the last reading{because}"

    def line(self) -> str:
        return f"balance: {self.summary()}"


async def check_balances(sessions: Sessions, registry: Providers, provider: str,
                         found_now: Sequence[Difference] = ()) -> list[BalanceReport]:
    """Read each account of `provider` that tells its balance, in each currency its books have or may have (another
    currency is none of its accounts': asked for it, a provider may answer with its own)."""
    accounts = registry.balances(provider)
    if not accounts:
        return []
    async with sessions() as session:
        currencies = await currencies_of(session, provider)
    return [await read_one(sessions, provider, account, currency, list(found_now))
            for account in accounts for currency in currencies]


async def currencies_of(session: AsyncSession, provider: str) -> list[str]:
    """The currencies of the contests that take `provider`, and of every order, refund and payout its accounts
    carry: a payout goes to any wallet an organiser names (its provider's, whatever the contest takes), and a
    contest's providers may change after its orders were taken. The books count each of those by provider."""
    taken = union(select(Contest.currency).where(Contest.providers.contains([provider])),
                  select(VoteOrder.currency).where(VoteOrder.provider == provider),
                  select(Refund.currency).where(Refund.provider == provider),
                  select(Payout.currency).where(Payout.kind == provider))
    return sorted(await session.scalars(taken))


async def read_one(sessions: Sessions, provider: str, account: AccountBalance, currency: str,
                   found_now: list[Difference]) -> BalanceReport:
    name: Account = "collection" if account.account == "collection" else "disbursement"
    async with sessions() as session:
        books = await account_books(session, provider, name, currency)
    try:
        balance = await account.balance(currency)
    except BalanceInOtherCurrency as exc:
        log.warning("money check: %s %s balance in %s not compared: %s", provider, name, currency, exc)
        return BalanceReport(provider, name, currency, None, answered=exc.answered)
    except PaymentError as exc:
        log.warning("money check: %s %s balance in %s not read: %s", provider, name, currency, exc)
        return BalanceReport(provider, name, currency, None)
    explained = effect_on(name, currency, found_now)
    async with sessions.begin() as session:
        # One reading at a time per account, so each is compared with the one truly before it.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:account))"),
                              {"account": f"balance:{provider}:{name}:{currency}"})
        before = await session.scalar(select(ProviderBalance).where(
            ProviderBalance.provider == provider, ProviderBalance.account == name,
            ProviderBalance.currency == currency).order_by(ProviderBalance.id.desc()).limit(1))
        session.add(ProviderBalance(provider=provider, account=name, currency=currency, balance=balance,
                                    books=books.net, maybe_in=books.maybe_in, maybe_out=books.maybe_out,
                                    read_at=func.now()))
        if before is None:
            return BalanceReport(provider, name, currency, balance)
        earlier = Reading(before.balance, AccountBooks(before.books, before.maybe_in, before.maybe_out))
        report = BalanceReport(provider, name, currency, balance, unexplained(earlier, Reading(balance, books),
                                                                              explained), explained)
        if report.gap:
            session.add(AuditEntry(actor="system", action="money.difference",
                                   target=f"balance:{provider}:{name}:{currency}",
                                   details={"key": f"reading:{before.id}", "kind": "balance", "what": "balance",
                                            "gap": report.gap, "line": report.line()}))
            log.warning("money check: %s", report.line())
    return report
