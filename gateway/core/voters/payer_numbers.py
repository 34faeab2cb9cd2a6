"""What the service knows of a payer number across channels: its language, whether it is blocked, its
votes in a contest. Every channel that knows a voter's number (a phone's, or one a chat user shared) asks
here, so a number blocked or a language chosen on one channel holds on all of them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gateway.core.texts import Lang
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit, autocommit_connection
from gateway.db.models import BlockedMsisdn, Candidate, OrderStatus, VoteOrder, VoterPreference

RECENT_ORDERS = 3

# Asked at every SMS, at a USSD session's start and before every phone receipt: run by the driver (gateway.db.
# driver_statements), as an ORM session's bookkeeping costs a worker more than the statement.
CALLER = DriverStatement(select(
    select(VoterPreference.language).where(VoterPreference.msisdn == bindparam("msisdn")).scalar_subquery(),
    select(BlockedMsisdn.msisdn).where(BlockedMsisdn.msisdn == bindparam("msisdn")).exists()), ("msisdn",))


@dataclass(frozen=True)
class Caller:
    language: Lang | None  # the language the number chose last, on any channel
    blocked: bool


@dataclass(frozen=True)
class PayerOrder:
    code: str  # the candidate's
    quantity: int
    status: str
    reason: str | None = None  # why it failed, as kept (a provider's code or the core's readable form)


@dataclass(frozen=True)
class PayerVotes:
    """A number's votes in one contest: what counted, what still waits, and its last few orders."""

    paid_votes: int
    pending_orders: int
    recent: tuple[PayerOrder, ...] = ()


async def caller(sessions: Sessions, msisdn: str) -> Caller:
    """The number's remembered language, and whether it is blocked: one round trip."""
    async with autocommit_connection(sessions) as connection:
        row = await CALLER.fetchrow(connection, {"msisdn": msisdn})
    if row is None:  # never: a SELECT of two expressions answers one row
        return Caller(None, False)
    return Caller(Lang.parse(row[0]), bool(row[1]))


async def remember_language(sessions: Sessions, msisdn: str, language: Lang) -> None:
    async with sessions.begin() as session:
        await session.execute(
            pg_insert(VoterPreference).values(msisdn=msisdn, language=language.value)
            .on_conflict_do_update(index_elements=[VoterPreference.msisdn],
                                   set_={"language": language.value, "updated_at": func.now()})
        )


async def payer_votes(sessions: Sessions, contest_id: int, msisdn: str,
                      recent: int = RECENT_ORDERS) -> PayerVotes:
    mine = (VoteOrder.contest_id == contest_id, VoteOrder.voter_msisdn == msisdn,
            VoteOrder.candidate_id.is_not(None))  # an entry's fee paid from the number is no vote
    async with autocommit(sessions) as session:
        paid, pending = (await session.execute(
            select(func.coalesce(func.sum(VoteOrder.quantity).filter(VoteOrder.status == OrderStatus.PAID), 0),
                   func.count().filter(VoteOrder.status == OrderStatus.PENDING)).where(*mine)
        )).one()
        rows = await session.execute(
            select(Candidate.code, VoteOrder.quantity, VoteOrder.status, VoteOrder.status_reason)
            .join(Candidate, Candidate.id == VoteOrder.candidate_id)
            .where(*mine).order_by(VoteOrder.created_at.desc()).limit(recent)
        )
        lines = tuple(PayerOrder(code, quantity, status.value, reason if status is OrderStatus.FAILED else None)
                      for code, quantity, status, reason in rows)
    return PayerVotes(int(paid), int(pending), lines)

