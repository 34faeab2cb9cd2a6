"""An organiser's change to a contest never holds up (nor deadlocks with) the votes being counted for it."""

from __future__ import annotations

import asyncio

from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.contests.scope import contest_in_scope
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from tests.factories import RULES_OFF, make_contest, place

OWNER = Actor(None, "owner@example.org", "owner")


async def test_a_vote_counts_while_an_admin_change_holds_the_contest_and_its_candidates(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF)
    order = await place(sessions, contest, "02", quantity=2)
    async with sessions.begin() as admin:  # an admin change under way (e.g. a resume or a reorder)
        await contest_in_scope(admin, OWNER, contest.id, lock=True)
        await contests_admin._in_order(admin, contest.id, lock=True)
        # The count's ledger entry and tally rows point at the contest and the candidate (foreign keys): with
        # FOR UPDATE held here it waited for the admin's commit; with FOR NO KEY UPDATE it goes through.
        await asyncio.wait_for(counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency,
                                                        "t-lock", provider=order.provider), timeout=5)
    async with sessions() as session:
        assert (await session.get(VoteOrder, order.id)).status is OrderStatus.PAID
