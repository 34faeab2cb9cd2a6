"""Votes counted through the vote core, then published as the outbox worker does."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import update

from gateway.core.orders import counting
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from leaderboard.cache import refresh_contest
from tests.factories import place

# How long a frame a test expects may take on a machine with every core busy: far under the test streams' 30 s
# heartbeat, which would otherwise bring a frame whose message was lost, and hide the loss.
ARRIVAL = 10

async def confirmed_vote(sessions: Sessions, contest: Contest, code: str = "01", quantity: int = 1) -> None:
    order = await place(sessions, contest, code, quantity)
    outcome = await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, None,
                                             provider=order.provider)
    assert outcome is ConfirmOutcome.COUNTED


async def vote_and_publish(sessions: Sessions, redis: Redis, contest: Contest, code: str = "01",
                           quantity: int = 1) -> int:
    """A confirmed vote and the outbox handler's refresh: the new board version."""
    await confirmed_vote(sessions, contest, code, quantity)
    return await refresh_contest(sessions, redis, contest.id)


async def set_contest(sessions: Sessions, contest: Contest, **values: object) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(**values))
