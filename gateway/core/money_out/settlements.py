"""A contest's settlement: what it took, per provider and currency, what the providers and the platform keep,
what went back, and what the organiser is owed. Integers of minor units throughout; money in two currencies is
never added up (a contest sold in Stars has an XTR statement beside its own).

- gross: every payment the provider confirmed (paid, held, owed back or refunded): money we hold or held, whatever
  became of its votes (an entry's fee included: money in, no vote). Never a flagged order's: its money is denied or
  in doubt (a callback the provider's status then contradicted, another amount, a success after we gave up) until
  a person decides it: counted, it is paid; given back, it is owed back; dismissed, it stays out;
- refunds: what went back or is owed back (`refunded`, `refund_requested`), and the part of a payment the provider
  gave back while its order stays paid (a card's partial refund from its dashboard, gateway.core.orders.refunding:
  for a person to decide, but gone from what the organiser is owed), of which chargebacks: what a card's owner
  disputed and their bank took back (gateway.core.money_in.chargebacks);
- provider fees: each provider's rate (a share in basis points and a fixed part per payment, or bands by the
  payment's amount: gateway.core.money_out.fee_rates, kept by an owner), on every payment the provider took
  (providers keep their fee on a refunded payment);
- commission: the contest's rate on what it kept (gross less refunds);
- net payable: gross less refunds, fees and commission; paid out: the organiser's payouts that went through;
  payouts under way: requested, approved or sent (gateway.core.money_out.payouts); balance: net less both;
- awaiting verification: payments counted on a callback's word whose status call has not agreed yet
  (gateway.core.money_in.verification.by_status). They are in the balance, but no payout is paid out of them
  (`payable`): a status that disagrees takes them back off, and money already paid out could not follow;
- held for review: payments a fraud rule held for a person (gateway.core.fraud.holds), verified or not. In the balance
  too, and set aside as well: a person who rejects the order gives the money back to the payer, and a payout
  already paid could not pay for that refund.

A statement is signed like the results sheet (the same key, `gateway results verify`'s check), with the ledger
head it was computed at, and kept: the organiser, an auditor and the platform hold the same bytes.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import ColumnElement, Text, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.cells import safe_text
from gateway.core.contests.scope import contest_in_scope
from gateway.core.errors import DomainError, NotFound
from gateway.core.money_out.fee_rates import FeeRate, fee_of, rates_by_provider, share
from gateway.core.results.signing import public_raw, sign
from gateway.db.engine import Sessions
from gateway.db.models import (
    AuditEntry,
    Contest,
    LedgerHead,
    OrderStatus,
    PaymentVerification,
    Payout,
    PayoutState,
    SettlementStatement,
    VoteOrder,
)

# A late order's money came in (its provider confirmed it, after the lines closed and their grace) and is owed back
# by itself (late_refunds): in the books as a refund owed, as any order owed back is.
MONEY_IN = (OrderStatus.PAID, OrderStatus.HELD, OrderStatus.REFUND_REQUESTED, OrderStatus.REFUNDED, OrderStatus.LATE)
MONEY_BACK = (OrderStatus.REFUND_REQUESTED, OrderStatus.REFUNDED, OrderStatus.LATE)
HEADER = ("record", "provider", "currency", "payments", "gross", "refunds", "fees", "commission", "net")


@dataclass(frozen=True)
class Takings:
    """One provider's payments of the contest in one currency."""

    provider: str
    currency: str
    payments: int
    gross: int
    refunds: int
    chargebacks: int = 0  # of the refunds
    unverified: int = 0  # of the gross: counted on a callback's word, its status call not agreed yet
    held: int = 0  # of the gross, verified ones only (the others are in `unverified`): held for a person
    amounts: tuple[tuple[int, int], ...] = ()  # (amount, how many payments of it): what a banded rate reads


@dataclass(frozen=True)
class ProviderLine:
    takings: Takings
    fees: int
    rate: FeeRate = FeeRate()  # what the fees were computed by


@dataclass(frozen=True)
class CurrencyStatement:
    currency: str
    lines: tuple[ProviderLine, ...]
    gross: int
    refunds: int
    fees: int
    commission: int
    net: int
    paid_out: int
    balance: int
    pending_out: int = 0  # payouts requested, approved or on their way
    chargebacks: int = 0  # of the refunds
    unverified: int = 0  # of the balance: not verified yet, so not paid out yet
    held: int = 0  # of the balance, verified: held for a person, who may give it back

    @property
    def payable(self) -> int:
        """What a payout may take now: the balance less what its provider has not verified yet and what a person
        may still give back."""
        return self.balance - self.unverified - self.held


def line_of(takings: Takings, rate: FeeRate) -> ProviderLine:
    return ProviderLine(takings, fee_of(takings.gross, takings.payments, takings.amounts, rate), rate)


def statements(takings: Sequence[Takings], rates: Mapping[tuple[str, str], FeeRate], commission_bp: int,
               paid_out: Mapping[str, int] | None = None, pending_out: Mapping[str, int] | None = None
               ) -> list[CurrencyStatement]:
    """The figures of each currency the contest took, from its takings and the rates (pure: no I/O)."""
    out = []
    for currency in sorted({t.currency for t in takings}):
        lines = tuple(line_of(t, rates.get((t.provider, currency), FeeRate()))
                      for t in sorted(takings, key=lambda t: t.provider) if t.currency == currency)
        gross = sum(line.takings.gross for line in lines)
        refunds = sum(line.takings.refunds for line in lines)
        chargebacks = sum(line.takings.chargebacks for line in lines)
        unverified = sum(line.takings.unverified for line in lines)
        held = sum(line.takings.held for line in lines)
        fees = sum(line.fees for line in lines)
        commission = share(gross - refunds, commission_bp)
        net = gross - refunds - fees - commission
        paid, pending = (paid_out or {}).get(currency, 0), (pending_out or {}).get(currency, 0)
        out.append(CurrencyStatement(currency, lines, gross, refunds, fees, commission, net, paid, net - paid - pending,
                                     pending, chargebacks, unverified, held))
    return out


def statement_csv(slug: str, name: str, commission_bp: int, figures: Sequence[CurrencyStatement], entries: int,
                  head: bytes, at: datetime) -> bytes:
    """The statement's exact bytes (what is signed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerow(("contest", slug, "", "", "", "", "", "", safe_text(name)))
    writer.writerow(("commission_rate_bp", "", "", "", "", "", "", commission_bp, ""))
    for money in figures:
        for line in money.lines:
            t = line.takings
            writer.writerow(("provider", t.provider, money.currency, t.payments, t.gross, t.refunds, line.fees, "", ""))
        writer.writerow(("total", "", money.currency, sum(line.takings.payments for line in money.lines), money.gross,
                         money.refunds, money.fees, money.commission, money.net))
        if money.chargebacks:  # of the refunds above
            writer.writerow(("chargebacks", "", money.currency, "", "", money.chargebacks, "", "", ""))
        writer.writerow(("paid_out", "", money.currency, "", "", "", "", "", money.paid_out))
        if money.pending_out:
            writer.writerow(("payouts_under_way", "", money.currency, "", "", "", "", "", money.pending_out))
        writer.writerow(("balance", "", money.currency, "", "", "", "", "", money.balance))
        if money.unverified:  # of the balance
            writer.writerow(("awaiting_verification", "", money.currency, "", "", "", "", "", money.unverified))
        if money.held:  # of the balance
            writer.writerow(("held_for_review", "", money.currency, "", "", "", "", "", money.held))
    writer.writerow(("ledger", "", "", entries, "", "", "", "", head.hex()))
    writer.writerow(("computed_at", "", "", "", "", "", "", "", at.strftime("%Y-%m-%dT%H:%M:%SZ")))
    return out.getvalue().encode()


CHARGED_BACK = (VoteOrder.status == OrderStatus.REFUNDED) & VoteOrder.status_reason.startswith("charged back")
# Kept (paid or held) on a callback's word, its verification not done yet: what a status call may still take back.
UNVERIFIED = (VoteOrder.status.in_((OrderStatus.PAID, OrderStatus.HELD)) & PaymentVerification.order_id.is_not(None)
              & PaymentVerification.verified_at.is_(None))
TAKINGS = (select(VoteOrder.provider, VoteOrder.currency, func.count(), func.sum(VoteOrder.amount),
                  func.coalesce(func.sum(VoteOrder.amount).filter(VoteOrder.status.in_(MONEY_BACK)), 0),
                  func.coalesce(func.sum(VoteOrder.amount).filter(CHARGED_BACK), 0),
                  func.coalesce(func.sum(VoteOrder.amount).filter(UNVERIFIED), 0),
                  func.coalesce(func.sum(VoteOrder.amount).filter((VoteOrder.status == OrderStatus.HELD)
                                                                  & ~UNVERIFIED), 0))
           .outerjoin(PaymentVerification, PaymentVerification.order_id == VoteOrder.id)
           .where(VoteOrder.status.in_(MONEY_IN)).group_by(VoteOrder.provider, VoteOrder.currency))
# The part of a payment its provider gave back while its order stays kept (paid, or held): a partial refund, its
# latest total (the provider reports the total refunded so far), in the order's currency. The currency is one
# expression written out, so the grouping names the same one.
_REFUND_CURRENCY: ColumnElement[str] = literal_column("audit_log.details ->> 'currency'")
_PARTIAL = (select(AuditEntry.target.label("order_key"), _REFUND_CURRENCY.label("currency"),
                   func.max(AuditEntry.details["refunded"].as_integer()).label("refunded"))
            .where(AuditEntry.action == "payment.partial_refund")
            .group_by(AuditEntry.target, _REFUND_CURRENCY).subquery())
PARTLY_BACK = (select(VoteOrder.provider, VoteOrder.currency,
                      func.sum(func.least(_PARTIAL.c.refunded, VoteOrder.amount)))
               .join(_PARTIAL, (_PARTIAL.c.order_key == cast(VoteOrder.id, Text))
                     & (func.upper(_PARTIAL.c.currency) == VoteOrder.currency))
               .where(VoteOrder.status.in_(MONEY_IN), VoteOrder.status.not_in(MONEY_BACK))
               .group_by(VoteOrder.provider, VoteOrder.currency))
# How many payments of each amount each provider took: a banded rate's fee goes by each payment's amount.
AMOUNTS = (select(VoteOrder.provider, VoteOrder.currency, VoteOrder.amount, func.count())
           .where(VoteOrder.status.in_(MONEY_IN))
           .group_by(VoteOrder.provider, VoteOrder.currency, VoteOrder.amount))


@dataclass(frozen=True)
class Settlement:
    contest_id: int
    slug: str
    name: str
    commission_bp: int
    figures: list[CurrencyStatement]
    entries: int
    head: bytes
    at: datetime


PAID_OUT = (PayoutState.SUCCEEDED,)
UNDER_WAY = (PayoutState.AWAITING_APPROVAL, PayoutState.REQUESTED, PayoutState.SENT, PayoutState.BY_HAND)


async def figures_of(session: AsyncSession, contest: Contest) -> list[CurrencyStatement]:
    """The contest's figures per currency in this session (a payout's request reads them under the contest's lock)."""
    rows = (await session.execute(TAKINGS.where(VoteOrder.contest_id == contest.id))).all()
    partly = {(provider, currency): int(back) for provider, currency, back in
              await session.execute(PARTLY_BACK.where(VoteOrder.contest_id == contest.id))}
    amounts: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for provider, currency, amount, count in await session.execute(AMOUNTS.where(VoteOrder.contest_id == contest.id)):
        amounts.setdefault((provider, currency), []).append((int(amount), int(count)))
    rates = await rates_by_provider(session)
    out = (await session.execute(select(Payout.currency, Payout.state, func.sum(Payout.amount))
                                 .where(Payout.contest_id == contest.id, Payout.state.in_(PAID_OUT + UNDER_WAY))
                                 .group_by(Payout.currency, Payout.state))).all()
    paid, pending = Counter[str](), Counter[str]()
    for currency, state, amount in out:
        (paid if state in PAID_OUT else pending)[currency] += int(amount)
    takings = [Takings(provider, currency, int(count), int(gross), int(back) + partly.get((provider, currency), 0),
                       int(disputed), int(unverified), int(held), tuple(amounts.get((provider, currency), ())))
               for provider, currency, count, gross, back, disputed, unverified, held in rows]
    return statements(takings, rates, contest.commission_bp, paid, pending)


async def settlement(sessions: Sessions, actor: Actor, contest_id: int) -> Settlement:
    """The contest's figures now, from its payment rows, payouts and the owner's rates, with its ledger's head."""
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)  # an organiser sees only their contests'
        figures = await figures_of(session, contest)
        head = (await session.execute(select(LedgerHead.entries, LedgerHead.head_hash)
                                      .where(LedgerHead.contest_id == contest.id))).one_or_none()
    entries, head_hash = (int(head.entries), bytes(head.head_hash)) if head else (0, b"")
    return Settlement(contest.id, contest.slug, contest.name, contest.commission_bp, figures, entries, head_hash,
                      datetime.now(UTC))


async def sign_statement(sessions: Sessions, key: Ed25519PrivateKey, actor: Actor, contest_id: int
                         ) -> SettlementStatement:
    """The statement now, signed and kept (who signed it is on it)."""
    figures = await settlement(sessions, actor, contest_id)
    body = statement_csv(figures.slug, figures.name, figures.commission_bp, figures.figures, figures.entries,
                         figures.head, figures.at)
    kept = SettlementStatement(contest_id=figures.contest_id, statement=body, signature=sign(key, body),
                               public_key=public_raw(key.public_key()), entries=figures.entries,
                               head_hash=figures.head, signed_by=actor.email, created_at=figures.at)
    async with sessions.begin() as session:
        session.add(kept)
        await session.flush()
    return kept


async def statements_of(sessions: Sessions, actor: Actor, contest_id: int, last: int = 10) -> list[SettlementStatement]:
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        return list((await session.scalars(select(SettlementStatement)
                                           .where(SettlementStatement.contest_id == contest.id)
                                           .order_by(SettlementStatement.id.desc()).limit(last))).all())


async def set_commission(sessions: Sessions, actor: Actor, contest_id: int, basis_points: int) -> None:
    """The platform's rate on a contest (an owner's decision, audited)."""
    if not 0 <= basis_points <= 10_000:
        raise DomainError("The commission: 0 to 10000 basis points (10000 is all of it).", code="invalid_field",
                          field="commission_bp")
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        before = contest.commission_bp
        contest.commission_bp = basis_points
        await audit.record(session, actor, "settlement.commission", f"contest:{contest.id}",
                           before={"commission_bp": before}, after={"commission_bp": basis_points})


async def statement_of(sessions: Sessions, actor: Actor, contest_id: int, statement_id: int) -> SettlementStatement:
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        found = await session.get(SettlementStatement, statement_id)
    if found is None or found.contest_id != contest.id:
        raise NotFound("No such statement.", code="statement_not_found")
    return found
