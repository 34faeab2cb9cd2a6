"""Deciding a round holds the contest's tallies while it reads the round's figures. A count takes the tallies it
touches in the candidates' order (gateway.core.orders.count_batches); the decision takes them in the same order, so
the two wait for each other and never deadlock, whatever order the tallies' rows lie in (each count writes its row
again)."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.core.contests import rounds
from gateway.db.engine import Sessions
from gateway.db.models import RoundStatus, Tally
from tests.show_rounds import OWNER, a_show
from tests.waiting import until_true


async def test_a_round_decided_while_a_count_holds_two_tallies_waits_for_it_and_neither_fails(
        sessions: Sessions, engine: AsyncEngine) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    async with sessions.begin() as session:
        first, *_, last = sorted(await session.scalars(select(Tally.candidate_id)
                                                       .where(Tally.contest_id == contest.id)))
        # The first candidate's tally written again where its page had no room (as under a show's counting): its row,
        # and its index entries, now come after the others'.
        row = (await session.execute(select(Tally.__table__).where(Tally.candidate_id == first))).one()
        await session.execute(delete(Tally).where(Tally.candidate_id == first))
        await session.execute(insert(Tally).values(**row._mapping))

    def tally(candidate_id: int) -> object:
        return select(Tally.votes).where(Tally.candidate_id == candidate_id).with_for_update()

    async with engine.connect() as count, engine.connect() as watch:
        await count.begin()
        await count.execute(tally(first))  # a count's batch, on its way through the candidates in order
        deciding = asyncio.create_task(rounds.decide_round(sessions, OWNER, contest.id, 1, places=2,
                                                           now=closed_at + rounds.DEFAULT_LATE_GRACE))

        async def waits_for_a_lock() -> bool:
            if deciding.done():  # it should be waiting: say why it is not
                await deciding
                raise AssertionError("the round was decided while a count held one of its tallies")
            found = await watch.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                            "AND datname = current_database()"))
            await watch.rollback()  # a transaction sees the activity as at its first look: each look its own
            return bool(found)

        await until_true(waits_for_a_lock, "the decision never waited for the count's tallies")
        await count.execute(tally(last))  # the batch's next candidate: a deadlock here if the decision held it
        await count.commit()
    board = await deciding
    assert board.round.status is RoundStatus.DECIDED
