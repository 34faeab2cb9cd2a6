"""Money a provider sends out by its own API, sent and followed by the worker: one machine for every kind of it.

A transfer is a row (a refund, a payout) whose id is the reference the provider gets, written before any call, so
a crash between the call and its record sends the same reference again and the provider pays it once. The row is
`requested` (to send, again with the same reference after a failed attempt) or `sent` (its status to read) until
it is decided, `succeeded` or `failed`. Each turn of the worker's pass takes one row a step:

- claim: a lease on the row, taken just before its turn by one compare-and-set UPDATE that moves its `due_at` to
  the lease's end where the row is as it was listed and due (never claimed, or its lease run out); the rowcount
  says whether this worker holds it, so two workers never send the same transfer. Each claim counts an attempt,
  and every write of the turn names that count: a worker whose lease ran out while it waited on the provider
  finds its writes refused, and stands back for the one that claimed after it.
- send (`requested`): taken (202, or 409 for a reference the provider has) → `sent`; a time-out or 5xx → tried
  again later, same reference; refused for good → see below.
- look again (`sent`): its status read (within the provider's cap); unknown to the provider (it never got it) →
  `requested` again, same reference; pending → looked at again later and later.
- settle: the provider's word decides; the kind keeps its own books with the row, in one transaction.

Paid for another amount than asked. A transfer the provider says it paid is a success, whatever amount it names:
money that moved never goes back where it could be paid twice (a payout's amount to the balance, a refund to be
sent again). The difference is kept on the row (`provider_reason`) and in the audit log (`<kind>.amount_differs`)
for a person, and `gateway reconcile money` lists it (gateway.core.money_out.money_check).

A refused resend. The provider refusing a send for good is taken at its word only on a row's first claim. Any
later claim is a resend, and the first send may have gone through with its answer lost (a time-out, a crash
before the record): the provider is asked about the reference before anything fails. If it has the transfer, its
word settles it as any status read does; if it never got it, the refusal stands and the row fails, for a person;
if it cannot say now, the row is looked at again later. Failing a transfer that was paid would pay twice (a
failed payout's amount is back in the balance, a failed refund is sent again under a new reference), and a
refusal never ends quietly: a failed row says why, and its kind puts it before a person.

The base does the work, each kind names its table and its few differences (what it sends, where a refusal goes,
what a success changes besides the row), as rq's `BaseRegistry` does for its registries.
"""

from __future__ import annotations

import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar, cast

from sqlalchemy import CursorResult, Result, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money_out.amount_differs import AmountDiffers
from gateway.core.providers import CollectionNotFound, PaymentError, PaymentState, Providers, StatusResult
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Payout, Refund

log = logging.getLogger(__name__)

# A claimed row is not claimed again meanwhile: longer than one turn can take (a send tried four times, each within
# the provider client's time-outs, then a status read): a lease runs out on a worker that died or hangs, whose
# writes are then refused (the docstring's "claim").
CLAIM_LEASE = timedelta(minutes=5)
FIRST_LOOK = timedelta(seconds=10)  # after it was sent: the provider decides in seconds
RETRY_AFTER = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
PER_PASS = 20
OVERTAKEN = "overtaken"  # the lease ran out and another worker claimed the row: this turn's writes were refused

Row = TypeVar("Row", bound=Refund | Payout)  # the kinds' rows: each asks the provider for its `amount` in `currency`
Sent = TypeVar("Sent")
Sender = TypeVar("Sender")


def later(attempts: int) -> timedelta:
    return RETRY_AFTER[min(max(attempts - 1, 0), len(RETRY_AFTER) - 1)]


@dataclass(frozen=True)
class Turn:
    reference: uuid.UUID
    outcome: str  # sent | retry | succeeded | failed | pending | resend | skipped | overtaken


class Listed(NamedTuple):
    """A row due, as the pass listed it."""

    reference: uuid.UUID
    state: StrEnum
    attempts: int


@dataclass(frozen=True)
class Claim(Generic[Row]):
    """A row this worker holds, and the attempt its claim counted (every write of the turn names it)."""

    row: Row
    reference: uuid.UUID
    state: StrEnum
    attempt: int


class Transfers(ABC, Generic[Row, Sent, Sender]):
    """The transfers of one kind, sent and followed through `sessions` by the providers of `registry`."""

    model: ClassVar[type[Any]]  # the kind's table: id, state, attempts, due_at, provider_txn_id, provider_reason
    requested: ClassVar[StrEnum]
    sent: ClassVar[StrEnum]
    succeeded: ClassVar[StrEnum]
    failed: ClassVar[StrEnum]
    noun: ClassVar[str]  # its audit actions (`refund.failed`) and log lines
    what: ClassVar[str]  # what the provider did not do, when it gives no reason
    paid: ClassVar[str] = "paid"  # what the provider did, and what was done to the sum: "paid …, … were asked"
    asked_for: ClassVar[str] = "asked"

    def __init__(self, sessions: Sessions, registry: Providers) -> None:
        self.sessions = sessions
        self.registry = registry

    # What a kind says of itself.

    @abstractmethod
    def sender(self, row: Row) -> Sender | None:
        ...

    @abstractmethod
    async def outgoing(self, row: Row) -> Sent | None:
        """What the provider is sent (None: nothing it can be sent now, the row waits)."""
        ...

    @abstractmethod
    async def send(self, sender: Sender, sent: Sent) -> None:
        ...

    @abstractmethod
    async def status(self, sender: Sender, sent: Sent) -> StatusResult:
        ...

    def asked(self, row: Row) -> tuple[int, str]:
        """The sum the provider was asked to pay: amount, currency."""
        return row.amount, row.currency

    @abstractmethod
    def audit_target(self, row: Row) -> str:
        ...

    @abstractmethod
    def audit_facts(self, row: Row) -> dict[str, object]:
        ...

    async def owe(self) -> int:
        """Rows the pass writes before it sends (none by default: a person's approval writes them)."""
        return 0

    async def lock(self, session: AsyncSession, row: Row) -> None:
        """What a decision on `row` changes besides it, locked before the row is."""

    async def on_succeeded(self, session: AsyncSession, row: Row, status: StatusResult) -> None:
        """The kind's own books once the provider paid, for whatever amount it names."""

    async def on_failed(self, session: AsyncSession, row: Row, reason: str) -> None:
        """The kind's own books once the transfer failed for good."""

    # The machine.

    @classmethod
    def open_states(cls) -> tuple[StrEnum, StrEnum]:
        return (cls.requested, cls.sent)

    async def run(self, now: datetime) -> list[Turn]:
        """Owe, send and follow what is due; one transfer's failure never stops the others."""
        await self.owe()
        clock = running_clock(now)
        turns = []
        for listed in await self.due(now):
            claim = await self.claim(listed, clock())
            if claim is None:  # another worker holds it, or decided it meanwhile
                continue
            try:
                turns.append(Turn(listed.reference, await self.take_turn(claim, clock())))
            except Exception:  # its lease brings it back
                log.exception("%s %s: its turn failed", self.noun, listed.reference)
        return turns

    async def due(self, now: datetime, limit: int = PER_PASS) -> list[Listed]:
        model = self.model
        async with self.sessions() as session:
            rows = await session.execute(select(model.id, model.state, model.attempts)
                                         .where(model.state.in_(self.open_states()), model.due_at <= now)
                                         .order_by(model.due_at).limit(limit))
            return [Listed(*row) for row in rows]

    async def claim(self, listed: Listed, now: datetime) -> Claim[Row] | None:
        """The row, leased to this worker until `now + CLAIM_LEASE`, if it is still as it was listed (no claim
        since) and due (never claimed, or its lease has run out); else None, and the worker leaves it alone."""
        model = self.model
        async with self.sessions.begin() as session:
            taken = await session.execute(update(model).where(
                model.id == listed.reference, model.state == listed.state, model.attempts == listed.attempts,
                model.due_at <= now).values(due_at=now + CLAIM_LEASE, attempts=model.attempts + 1))
            if rowcount(taken) != 1:
                return None
            row: Row = await session.get_one(model, listed.reference)
        return Claim(row, listed.reference, listed.state, listed.attempts + 1)

    async def take_turn(self, claim: Claim[Row], now: datetime) -> str:
        sender = self.sender(claim.row)
        sent = None if sender is None else await self.outgoing(claim.row)
        if sender is None or sent is None:
            return "skipped"
        if claim.state == self.requested:
            return await self._send(claim, sender, sent, now)
        return await self._look_again(claim, sender, sent, now)

    async def _send(self, claim: Claim[Row], sender: Sender, sent: Sent, now: datetime) -> str:
        try:
            await self.send(sender, sent)
        except PaymentError as exc:
            if exc.retryable:
                return await self._moved(claim, "retry", due_at=now + later(claim.attempt))
            return await self._refused(claim, sender, sent, f"{exc.code}: {exc.message}", now)
        return await self._moved(claim, "sent", state=self.sent, due_at=now + FIRST_LOOK)

    async def _refused(self, claim: Claim[Row], sender: Sender, sent: Sent, refusal: str, now: datetime) -> str:
        """A send refused for good: as "A refused resend" in the module's docstring says."""
        if claim.attempt <= 1:
            return await self._fail(claim, refusal)
        try:
            status = await self.status(sender, sent)
        except CollectionNotFound:  # it never got there: the refusal stands
            return await self._fail(claim, refusal)
        except PaymentError:
            return await self._moved(claim, "retry", due_at=now + later(claim.attempt))
        return await self._settle(claim, status, now)

    async def _look_again(self, claim: Claim[Row], sender: Sender, sent: Sent, now: datetime) -> str:
        try:
            status = await self.status(sender, sent)
        except CollectionNotFound:  # the provider never got it: send it again, under the same reference
            return await self._moved(claim, "resend", state=self.requested, due_at=now)
        except PaymentError:  # rate-limited, or no answer
            return await self._moved(claim, "retry", due_at=now + later(claim.attempt))
        return await self._settle(claim, status, now)

    async def _settle(self, claim: Claim[Row], status: StatusResult, now: datetime) -> str:
        if status.state is PaymentState.PENDING:  # the provider has it: its status is what is left to read
            return await self._moved(claim, "pending", state=self.sent, due_at=now + later(claim.attempt))
        if status.state is not PaymentState.SUCCESSFUL:
            return await self._fail(claim, status.reason or status.raw_status
                                    or f"the provider's {self.what} did not succeed")
        return await self._succeed(claim, status, now)

    async def _succeed(self, claim: Claim[Row], status: StatusResult, now: datetime) -> str:
        """Paid: as "Paid for another amount than asked" in the module's docstring says, whatever the amount."""
        differs = self.amount_differs(claim.row, status)
        kept, noted = ({}, {}) if differs is None else ({"provider_reason": differs}, {"reason": differs})
        async with self.sessions.begin() as session:
            await self.lock(session, claim.row)
            if not await self._fenced(session, claim, state=self.succeeded, decided_at=now,
                                      provider_txn_id=status.provider_txn_id, **kept):
                return OVERTAKEN
            await self.on_succeeded(session, claim.row, status)
            self._note(session, claim.row, "succeeded" if differs is None else "amount_differs",
                       {"provider_txn_id": status.provider_txn_id, **noted})
        if differs is not None:
            log.warning("%s %s: %s", self.noun, claim.reference, differs)
        return "succeeded"

    def amount_differs(self, row: Row, status: StatusResult) -> str | None:
        """A success for another sum than asked, in words (None: the sum asked, or the provider names none)."""
        amount, currency = self.asked(row)
        paid_in = status.currency or currency
        if status.amount is None or (status.amount, paid_in.upper()) == (amount, currency.upper()):
            return None
        return AmountDiffers(self.paid, status.amount, paid_in, amount, self.asked_for).line()

    async def _fail(self, claim: Claim[Row], reason: str) -> str:
        """Refused for good: the row says why, and the kind puts it before a person."""
        async with self.sessions.begin() as session:
            await self.lock(session, claim.row)
            if not await self._fenced(session, claim, state=self.failed, provider_reason=reason[:1000],
                                      decided_at=func.now()):
                return OVERTAKEN
            await self.on_failed(session, claim.row, reason)
            self._note(session, claim.row, "failed", {"reason": reason})
        log.warning("%s %s failed: %s", self.noun, claim.reference, reason)
        return "failed"

    async def _moved(self, claim: Claim[Row], outcome: str, **values: Any) -> str:
        """Sent, to send again, or to look at later."""
        async with self.sessions.begin() as session:
            return outcome if await self._fenced(session, claim, **values) else OVERTAKEN

    async def _fenced(self, session: AsyncSession, claim: Claim[Row], **values: Any) -> bool:
        """A write of the turn, made only while this worker's claim is the row's last and the row is open."""
        model = self.model
        written = await session.execute(update(model).where(
            model.id == claim.reference, model.attempts == claim.attempt, model.state.in_(self.open_states()))
            .values(**values))
        return rowcount(written) == 1

    def _note(self, session: AsyncSession, row: Row, action: str, details: dict[str, object]) -> None:
        session.add(AuditEntry(actor="system", action=f"{self.noun}.{action}", target=self.audit_target(row),
                               details={**self.audit_facts(row), **details}))

    @classmethod
    async def bring_forward(cls, session: AsyncSession, reference: uuid.UUID) -> bool:
        """An open transfer of this kind with that reference, looked at soon: a `sent` one now (a status read
        twice is harmless, and its writes are fenced); a `requested` one within a lease, which never cuts short
        the lease of a worker sending it (a second worker would send it at the same time)."""
        model = cls.model
        soon = case((model.state == cls.sent, func.now()), else_=func.least(model.due_at, func.now() + CLAIM_LEASE))
        brought = await session.scalar(update(model).where(model.id == reference, model.state.in_(cls.open_states()))
                                       .values(due_at=soon).returning(model.id))
        return brought is not None

    @classmethod
    async def known(cls, session: AsyncSession, reference: uuid.UUID) -> bool:
        return await session.scalar(select(cls.model.id).where(cls.model.id == reference)) is not None


def rowcount(result: Result[Any]) -> int:
    return cast("CursorResult[Any]", result).rowcount


def running_clock(now: datetime) -> Callable[[], datetime]:
    """The pass's `now`, moved on by the time its turns took: each claim's lease starts when it is taken, not when
    the pass began (a pass of slow turns would hand out leases already run out)."""
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)
