"""The published rule for late votes, the same on every channel: an order placed before the lines closed counts if
its payment is confirmed to us no later than the contest's grace after the close; a payment confirmed later is not
counted and is given back by itself (gateway.core.money_out.late_refunds).

The close is the contest's `closes_at`, or the moment an organiser closed it (from open or from paused) when that
came first: closing by hand leaves `closes_at` as it was, and its audit entry (`contest.close`) says when. In a show
of rounds, an order of a round the show has moved on from is judged by that round's own close. Both the
rule's pure form (`is_late`) and its SQL form inside the counting statement (`late_in_sql`) read the close so, and so
does the paybill's "was voting open when the money moved" (gateway.core.money_in.paid_unasked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import AuditEntry, Contest, ContestRound, ContestStatus

# What a contest gets unless its organiser says otherwise (`contests.late_grace_seconds`): MTN MoMo's prompt stays
# open about five minutes before it gives up (COULD_NOT_PERFORM_TRANSACTION), and so does M-Pesa's STK push, so a
# voter who placed a vote just before the close and approved the prompt as soon as it came is never turned away.
# Orange's USSD push waits about seven minutes and its WebPay page about ten: a contest paid mostly through Orange
# may publish a longer grace.
DEFAULT_GRACE_SECONDS = 300
CLOSE_ACTION = "contest.close"  # the audit entry of an organiser's close (gateway.core.contests.contests_admin)


@dataclass(frozen=True)
class LinesClose:
    """When a contest's lines closed (or will close), and how it stood just before an organiser closed it."""

    at: datetime
    status_before: ContestStatus  # OPEN, or PAUSED where an organiser closed a paused contest


def lines_closed_at(closes_at: datetime, closed_by_hand_at: datetime | None) -> datetime:
    """The close: the contest's closing time, or the moment it was closed by hand when that came first. Pure."""
    return closes_at if closed_by_hand_at is None else min(closes_at, closed_by_hand_at)


def grace_ends(close: datetime, grace_seconds: int) -> datetime:
    """The last instant a payment confirmed to us still counts (inclusive). Pure."""
    return close + timedelta(seconds=max(grace_seconds, 0))


# The replay key of an order written for money paid unasked (gateway.core.money_in.paid_unasked.client_key).
UNASKED_KEY = "unasked:"


def is_late(placed_at: datetime, confirmed_at: datetime, close: datetime, grace_seconds: int, *,
            unasked: bool = False) -> bool:
    """Whether an order was paid too late to count: confirmed after the grace. At the grace's last second exactly it
    still counts. An order written for money paid unasked at or after the close is no order of this rule (a
    paybill payment's own rule judges the money it brings); one placed by a voter is, even placed at the close's
    instant (a placement that read the contest just before a producer's close committed). Pure."""
    return (placed_at < close or not unasked) and confirmed_at > grace_ends(close, grace_seconds)


def rule_minutes(grace_seconds: int) -> int:
    """The grace in whole minutes as the contest page publishes it (rounded up: never less than the rule). Pure."""
    return max(1, -(-max(grace_seconds, 0) // 60))


async def order_close(session: AsyncSession, contest: Contest, round_id: int | None) -> datetime:
    """`order_close_in_sql` for one order of `contest` placed in the round `round_id`."""
    if round_id is not None and round_id != contest.current_round_id:
        closes_at = await session.scalar(select(ContestRound.closes_at).where(ContestRound.id == round_id))
        if closes_at is not None:
            return closes_at
    return (await lines_close(session, contest)).at


async def lines_close(session: AsyncSession, contest: Contest) -> LinesClose:
    """The contest's close, with its organiser's close by hand where there was one (the latest entry)."""
    if contest.status is not ContestStatus.CLOSED:
        return LinesClose(contest.closes_at, contest.status)
    closed = (await session.execute(select(AuditEntry.created_at, AuditEntry.before).where(
        AuditEntry.action == CLOSE_ACTION, AuditEntry.target == f"contest:{contest.id}")
        .order_by(AuditEntry.id.desc()).limit(1))).one_or_none()
    if closed is None:
        return LinesClose(contest.closes_at, ContestStatus.OPEN)
    before = (closed.before or {}).get("status")
    status = ContestStatus.PAUSED if before == ContestStatus.PAUSED.value else ContestStatus.OPEN
    return LinesClose(lines_closed_at(contest.closes_at, closed.created_at), status)


def closed_at_in_sql(contests: Any) -> ColumnElement[Any]:
    """`lines_closed_at` inside a statement over `contests` (a table or alias): the audit entry is read only for a
    contest closed by hand, through the audit log's (target, created_at) index."""
    audit = AuditEntry.__table__.c
    by_hand = (select(func.max(audit.created_at))
               .where(audit.target == func.concat(literal("contest:", String), cast(contests.c.id, String)),
                      audit.action == CLOSE_ACTION)
               .scalar_subquery())
    return func.least(contests.c.closes_at, case((contests.c.status == ContestStatus.CLOSED, by_hand), else_=None))


def order_close_in_sql(orders: Any, contests: Any) -> ColumnElement[Any]:
    """The close an order is judged by: its contest's, or, for an order of a round that is no longer the contest's
    current one (the show moved on to the next round), that round's own close (gateway.db.models.rounds)."""
    rounds = ContestRound.__table__.c
    its_round = select(rounds.closes_at).where(rounds.id == orders.c.round_id).scalar_subquery()
    earlier_round = orders.c.round_id.is_not(None) & orders.c.round_id.is_distinct_from(contests.c.current_round_id)
    return case((earlier_round, its_round), else_=closed_at_in_sql(contests))


def late_in_sql(placed_at: Any, confirmed_at: Any, close: Any, contests: Any,
                client_key: Any = None) -> ColumnElement[bool]:
    """`is_late` inside a statement: `placed_at` and `confirmed_at` are its columns or parameters, `close` the
    order's close (`order_close_in_sql`), the grace its contest's, `client_key` the order's (an unasked payment's)."""
    grace = func.make_interval(0, 0, 0, 0, 0, 0, func.greatest(contests.c.late_grace_seconds, 0))
    placed = placed_at < close
    if client_key is not None:
        placed = placed | ~func.coalesce(client_key.startswith(UNASKED_KEY, autoescape=True), False)
    late: ColumnElement[bool] = placed & (confirmed_at > close + grace)
    return late


def lines_shut_in_sql(contests: Any) -> ColumnElement[bool]:
    """Whether a contest takes no vote now (closed, paused, or past its closing time), inside a statement: a vote's
    payment is never started then (gateway.core.money_in.starting), since no vote is taken once the lines closed."""
    shut: ColumnElement[bool] = (contests.c.status != ContestStatus.OPEN) | (func.now() >= contests.c.closes_at)
    return shut
