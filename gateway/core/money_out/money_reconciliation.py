"""`gateway reconcile money` and the worker's daily pass: each day's books of a provider against the provider's own word
(gateway.core.money_out.money_check), one status call per reference, within the provider's cap (the reconciler's share:
the worker's checks of fresh payments come first). Each difference is printed and kept in the audit log
(`money.difference`, once per reference), where a person finds it.

Providers read here: every one the service knows (`Providers.names`). Their status calls name our references,
payments (every provider's `fetch_status`) and, where the provider sends them by API, refunds and payouts (MTN's
Disbursement); and, where the provider's books list every payment (`Capability.STATEMENT_LISTING`: Stripe's balance
transactions, M-Pesa's C2B payments), a payment there that names no order of ours (by its id, our reference or its
first digits, or the provider's id an order was paid under) is found too. A provider with no
status per reference (Stars) is read by its list of the day: each payment of the books found there, for its
amount, and what is listed for no order of ours.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Text, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money_in.collections import load_collection
from gateway.core.money_out.money_check import (
    KINDS,
    BookEntry,
    Difference,
    Position,
    ProviderWord,
    books_of_day,
    day_bounds,
    difference,
)
from gateway.core.providers import (
    Capability,
    ChargeList,
    CollectionNotFound,
    OutgoingPayout,
    OutgoingRefund,
    PaymentError,
    PaymentProvider,
    PaymentState,
    ProviderCharge,
    Providers,
    StatusResult,
)
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Payout, Refund, VoteOrder

log = logging.getLogger(__name__)
Pace = Callable[[PaymentProvider], Awaitable[None]]
ENTRIES_AT_A_TIME = 200  # read from the books at once
MOVED_IN = (PaymentState.SUCCESSFUL, PaymentState.REFUNDED, PaymentState.CHARGED_BACK)  # a payment's word


@dataclass(frozen=True)
class Resume:
    """Where a pass cut short takes its day up again."""

    after: Position | None  # the last entry read (None: from the start)
    tries: int = 0  # how often the entry just after it could not be read

    def as_json(self) -> str:
        after = self.after
        return json.dumps({"tries": self.tries} if after is None else {
            "tries": self.tries, "kind": after.kind, "at": after.at.isoformat(), "key": str(after.key)})

    @classmethod
    def from_json(cls, text: str | bytes) -> Resume:
        data = json.loads(text)
        if "key" not in data:
            return cls(None, int(data["tries"]))
        kind = next(kind for kind in KINDS if kind == data["kind"])
        return cls(Position(kind, datetime.fromisoformat(data["at"]), uuid.UUID(data["key"])), int(data["tries"]))


@dataclass(frozen=True)
class Budget:
    """A pass's share of the worker's time: a day of a big show is read over several passes."""

    deadline: float  # the event loop's time past which no new reference is read
    retries: int = 2  # a reference not read stops the pass this many times before it is given up as unread


@dataclass(frozen=True)
class DayReport:
    provider: str
    day: date
    checked: int
    differences: list[Difference]
    unread: int  # references whose status could not be read now (a time-out, the cap): read at the next pass
    read_here: bool = True  # False: the provider is not set up here, or verified against its list when counted
    new: tuple[Difference, ...] = ()  # of `differences`, those no earlier pass had found (audited by this one)
    resume: Resume | None = None  # cut short (its budget): where the next pass goes on; None: read to the end

    def summary(self) -> str:
        if not self.read_here:
            return f"{self.provider} {self.day.isoformat()}: not read here (not set up, or checked against its list)"
        found = f"{len(self.differences)} difference(s)" if self.differences else "no difference"
        unread = f", {self.unread} not read (try again later)" if self.unread else ""
        more = ", the rest at the next pass" if self.resume is not None else ""
        return f"{self.provider} {self.day.isoformat()}: {self.checked} checked, {found}{unread}{more}"


async def reconcile_money(sessions: Sessions, registry: Providers, provider: str, day: date, pace: Pace, *,
                          resume: Resume | None = None, budget: Budget | None = None) -> DayReport:
    """The day's books of `provider` against its word (from where `resume` says); each new difference audited.
    With a `budget`, the pass stops at its deadline, or at a read that fails (tried again by the next pass, up to
    its `retries`), and its report says where to take the day up again."""
    if not registry.offers(provider):
        return DayReport(provider, day, 0, [], 0, read_here=False)
    if provider in registry.payment_lists():  # no status per reference: the day's list is its word
        listing = registry.get(provider)
        if not isinstance(listing, ChargeList):
            return DayReport(provider, day, 0, [], 0, read_here=False)
        report = await by_list(sessions, listing, provider, day)
        return replace(report, new=await _audit(sessions, provider, day, report.differences))
    found: list[Difference] = []
    checked, unread, loop = 0, 0, asyncio.get_running_loop()
    position, tries = (resume.after, resume.tries) if resume is not None else (None, 0)
    while batch := await _next_entries(sessions, provider, day, position):
        for entry in batch:
            if budget is not None and loop.time() > budget.deadline:
                return await _cut_short(sessions, provider, day, checked, found, unread, Resume(position, tries))
            try:
                word = await word_on(sessions, registry, provider, entry, pace)
            except PaymentError as exc:
                if budget is not None and tries < budget.retries:
                    log.info("money check: %s %s not read (%s): the next pass tries again", entry.kind, entry.key,
                             exc)
                    return await _cut_short(sessions, provider, day, checked, found, unread,
                                            Resume(position, tries + 1))
                log.warning("money check: %s %s not read: %s", entry.kind, entry.key, exc)
                unread += 1
            else:
                checked += 1
                if word is not None and (gap := difference(entry, word)) is not None:
                    found.append(gap)
            position, tries = entry.position(), 0
    lists_charges = Capability.STATEMENT_LISTING in registry.capabilities(provider)
    charge_list = registry.get(provider) if lists_charges else None
    if isinstance(charge_list, ChargeList):
        try:
            found += await charges_of_nobody(sessions, await day_of_charges(charge_list, day), provider)
        except PaymentError as exc:
            log.warning("money check: %s's list of charges not read: %s", provider, exc)
            unread += 1
    new = await _audit(sessions, provider, day, found)
    return DayReport(provider, day, checked, found, unread, new=new)


async def _next_entries(sessions: Sessions, provider: str, day: date, after: Position | None) -> list[BookEntry]:
    async with sessions() as session:
        return await books_of_day(session, provider, day, after, ENTRIES_AT_A_TIME)


async def _cut_short(sessions: Sessions, provider: str, day: date, checked: int, found: list[Difference],
                     unread: int, resume: Resume) -> DayReport:
    new = await _audit(sessions, provider, day, found)
    return DayReport(provider, day, checked, found, unread, new=new, resume=resume)


async def day_of_charges(listing: ChargeList, day: date) -> Sequence[ProviderCharge]:
    """The day's payments in the provider's books, and the hour after: a payment page opened before midnight is
    paid after it."""
    start, end = day_bounds(day)
    return await listing.charges_between(start, end + timedelta(hours=1))


async def by_list(sessions: Sessions, listing: ChargeList, provider: str, day: date) -> DayReport:
    """A provider whose list is its only word (Stars): each payment of the day's books found there by our reference,
    for its amount; and what is listed for no order of ours."""
    async with sessions() as session:
        entries = [entry for entry in await books_of_day(session, provider, day) if entry.kind == "payment"]
        keys = [entry.key for entry in entries]
        rows = (await session.execute(select(VoteOrder.id, VoteOrder.payment_reference)
                                      .where(VoteOrder.id.in_(keys)))).all() if keys else []
        references = {order_id: reference for order_id, reference in rows}
    try:
        charges = await day_of_charges(listing, day)
    except PaymentError as exc:
        log.warning("money check: %s's list not read: %s", provider, exc)
        return DayReport(provider, day, 0, [], max(1, len(entries)))  # the list itself is unread
    listed = {charge.reference: charge for charge in charges if charge.reference}
    found = []
    for entry in entries:
        charge = listed.pop(str(references.get(entry.key)), None)
        word = (ProviderWord(True, True, charge.amount, charge.currency, f"listed ({charge.txn_id})") if charge
                else ProviderWord(False, False))
        if (gap := difference(entry, word)) is not None:
            found.append(gap)
    unmatched = [*listed.values(), *(charge for charge in charges if not charge.reference)]
    return DayReport(provider, day, len(entries), found + await charges_of_nobody(sessions, unmatched, provider), 0)


async def charges_of_nobody(sessions: Sessions, charges: Sequence[ProviderCharge],
                            provider: str) -> list[Difference]:
    """Of the payments a provider's books list, those that name no order of ours (by its id, our reference or its
    first digits, or the provider's id we were paid under): money taken that no vote of ours asked for."""
    async with sessions() as session:
        ours = await _ours(session, charges, provider)
    return [Difference("missing_in_books",
                       BookEntry("payment", charge.order_id or uuid.uuid5(uuid.NAMESPACE_URL,
                                                                          f"{provider}:{charge.txn_id}"),
                                 False, charge.amount, charge.currency),
                       ProviderWord(True, True, charge.amount, charge.currency, f"charged ({charge.txn_id})"))
            for charge in charges if ours.isdisjoint(_names(charge))]


def _names(charge: ProviderCharge) -> set[str]:
    """How a listed payment may name one of our orders: as `_ours` writes each."""
    names = {f"id:{charge.order_id}", f"ref:{charge.reference}", f"txn:{charge.txn_id}"}
    return names | ({f"prefix:{charge.reference_prefix.lower()}"} if charge.reference_prefix else set())


async def _ours(session: AsyncSession, charges: Sequence[ProviderCharge], provider: str) -> set[str]:
    named = {charge.order_id for charge in charges if charge.order_id is not None}
    references = {uuid.UUID(charge.reference) for charge in charges if charge.reference and _is_uuid(charge.reference)}
    txns = {charge.txn_id for charge in charges}
    prefixes = {charge.reference_prefix.lower() for charge in charges if charge.reference_prefix}
    ours = {f"id:{key}" for key in await session.scalars(select(VoteOrder.id).where(VoteOrder.id.in_(named)))}
    ours |= {f"ref:{key}" for key in await session.scalars(select(VoteOrder.payment_reference)
                                                          .where(VoteOrder.payment_reference.in_(references)))}
    ours |= {f"txn:{txn}" for txn in await session.scalars(select(VoteOrder.provider_txn_id).where(
        VoteOrder.provider == provider, VoteOrder.provider_txn_id.in_(txns)))} if txns else set()
    for length in {len(prefix) for prefix in prefixes}:
        start = func.substr(func.replace(cast(VoteOrder.payment_reference, Text), "-", ""), 1, length)
        ours |= {f"prefix:{found}" for found in await session.scalars(select(start).where(
            VoteOrder.provider == provider, start.in_([p for p in prefixes if len(p) == length])))}
    return ours


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def word_on(sessions: Sessions, registry: Providers, provider: str, entry: BookEntry,
                  pace: Pace) -> ProviderWord | None:
    """What the provider says of one entry (None: nothing to ask it, e.g. a refund it does not send by API)."""
    status: StatusResult
    try:
        if entry.kind == "payment":
            async with sessions() as session:
                loaded = await load_collection(session, entry.key)
            if loaded is None:
                return None
            payments = registry.for_order(provider, loaded[0].channel)  # Orange: its push or its payment page
            await pace(payments)
            status = await payments.fetch_status(loaded[1])
        elif entry.kind == "refund":
            refunder = registry.refunder(provider)
            async with sessions() as session:
                refund = await session.get(Refund, entry.key)
                loaded = None if refund is None else await load_collection(session, refund.order_id)
            if refunder is None or refund is None or loaded is None:
                return None
            await pace(registry.for_order(provider, loaded[0].channel))
            status = await refunder.refund_status(OutgoingRefund(refund.id, loaded[1], refund.amount, refund.currency))
        else:
            sender = registry.payout_sender(provider)
            async with sessions() as session:
                payout = await session.get(Payout, entry.key)
            if sender is None or payout is None or payout.msisdn is None:
                return None
            await pace(registry.get(provider))
            status = await sender.payout_status(OutgoingPayout(payout.id, payout.msisdn, payout.amount,
                                                               payout.currency, ""))
    except CollectionNotFound:
        return ProviderWord(found=False, moved=False)
    # A payment given back since (refunded, charged back) did come in, as the books say of it too.
    moved = MOVED_IN if entry.kind == "payment" else (PaymentState.SUCCESSFUL,)
    return ProviderWord(True, status.state in moved, status.amount, status.currency,
                        status.raw_status or status.state.value)


async def _audit(sessions: Sessions, provider: str, day: date, found: list[Difference]) -> tuple[Difference, ...]:
    target = f"money:{provider}:{day.isoformat()}"
    async with sessions.begin() as session:
        known = set(await session.scalars(select(AuditEntry.details["key"].astext).where(
            AuditEntry.action == "money.difference", AuditEntry.target == target)))
        new = tuple(gap for gap in found if str(gap.entry.key) not in known)
        for gap in new:
            session.add(AuditEntry(actor="system", action="money.difference", target=target, details={
                "key": str(gap.entry.key), "kind": gap.entry.kind, "what": gap.what, "line": gap.line()}))
            log.warning("money check: %s", gap.line())
    return new
