"""A show in rounds for the tests: two planned rounds, votes paid in the open one, the contest as it stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.core.audit import Actor
from gateway.core.contests import round_rules, rounds
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, VoteOrder
from tests.factories import make_contest, place

OWNER = Actor(admin_id=None, email="owner@example.com", role="owner")


async def paid_votes(sessions: Sessions, contest: Contest, votes: dict[str, int], first: int = 0) -> list[VoteOrder]:
    """Orders paid for these votes, by payers numbered from `first`."""
    orders = []
    for index, (code, quantity) in enumerate(votes.items(), start=first):
        order = await place(sessions, contest, candidate=code, quantity=quantity, msisdn=f"+23767000{index:04d}")
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", f"t-{order.id}",
                                       provider="mtn")
        orders.append(order)
    return orders


async def a_show(sessions: Sessions, *, carry: bool = False) -> tuple[Contest, datetime]:
    now = datetime.now(UTC)
    contest = await make_contest(sessions, candidates=4, status=ContestStatus.DRAFT, price_per_vote=100)
    await rounds.plan_round(sessions, OWNER, contest.id, round_rules.RoundPlan("Heats", 100, now + timedelta(hours=2)))
    await rounds.plan_round(sessions, OWNER, contest.id,
                            round_rules.RoundPlan("Final", 250, now + timedelta(hours=4), carry_counts=carry))
    return contest, now


async def reloaded(sessions: Sessions, contest: Contest) -> Contest:
    async with sessions() as session:
        found = await session.get(Contest, contest.id)
        assert found is not None
        return found


