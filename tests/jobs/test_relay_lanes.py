"""A web process's outbox relay runs the board's refreshes in a lane of their own: a frame never waits for the
receipts and other jobs being handed to RQ, which under a show's mixed load (a receipt for each SMS and USSD vote,
a few Redis round trips each, on a busy machine) took seconds a pass."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis
from sqlalchemy import event, func, select

from assembly.settings import Settings
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OutboxMessage
from gateway.jobs.queues import job_queue, sync_redis
from gateway.jobs.relay import QUEUED_PACE_SECONDS, RelayLoop
from leaderboard.cache import cached_votes
from leaderboard.refresh import board_refresh
from tests.factories import RULES_OFF, make_contest, place
from tests.network import redis_relay
from tests.waiting import HANG_SECONDS

PHONE_VOTES = 8  # counted at once: the board's rows and as many receipts to hand to RQ
VOTES_IN_A_BURST = 30
SLOW_LINK = 0.5  # seconds each of Redis's answers takes to reach the relay's RQ hand-over


async def paid_with_receipt(sessions: Sessions, contest: Contest, msisdn: str) -> None:
    """A phone voter's vote, counted: its board row and its receipt's row, committed together."""
    order = await place(sessions, contest, "01", 1, msisdn=msisdn, sends_receipt=True)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, None,
                                   provider=order.provider)


async def shown(redis: Redis, contest: Contest, votes: int) -> None:
    async with asyncio.timeout(HANG_SECONDS):
        while sum((await cached_votes(redis, contest.id)).values()) != votes:
            await asyncio.sleep(0.02)


async def test_a_vote_reaches_the_board_while_the_receipts_before_it_are_still_being_handed_to_rq(
        sessions: Sessions, settings: Settings, redis: Redis) -> None:
    """Eight phone votes counted, their receipts handed to RQ over a slow link; a ninth vote is on the board
    before that hand-over ends, not after it."""
    link, url = await redis_relay(settings.redis_url or "")
    queue = job_queue(sync_redis(url))
    link.answer_delay = SLOW_LINK
    contest = await make_contest(sessions, candidates=2, fraud_rules=RULES_OFF)
    loop = RelayLoop(sessions, queue, board_refresh(sessions, redis), interval=0.1)
    loop.start()
    try:
        for n in range(PHONE_VOTES):
            await paid_with_receipt(sessions, contest, f"+23767000{n:04d}")
        loop.kick()
        await shown(redis, contest, PHONE_VOTES)  # the board first; the receipts' hand-over has begun
        await paid_with_receipt(sessions, contest, "+237670009999")
        loop.kick()
        await shown(redis, contest, PHONE_VOTES + 1)
        assert await redis.llen(f"rq:queue:{queue.name}") < PHONE_VOTES  # the receipts were still being handed over
    finally:
        link.answer_delay = 0.0
        await loop.stop()
        await link.close()


async def test_receipts_of_a_burst_are_handed_to_rq_in_a_few_passes_not_one_a_vote(
        sessions: Sessions, settings: Settings, redis: Redis) -> None:
    """Every confirmation kicks the relay; the receipts of votes counted one after the other go to RQ in a pass
    every quarter of a second, each handing over all that came meanwhile, not in a pass (and a job) per vote."""
    queue = job_queue(sync_redis(settings.redis_url or ""))
    contest = await make_contest(sessions, candidates=2, fraud_rules=RULES_OFF)
    passes: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().startswith("UPDATE outbox ") and "delivered_at" not in statement:
            passes.append(statement)  # the queued lane marking what it handed over

    engine = sessions.kw["bind"].sync_engine
    loop = RelayLoop(sessions, queue, board_refresh(sessions, redis))
    loop.start()
    event.listen(engine, "before_cursor_execute", seen)
    began = time.monotonic()
    try:
        for n in range(VOTES_IN_A_BURST):
            await paid_with_receipt(sessions, contest, f"+23767100{n:04d}")
            loop.kick()
        elapsed = time.monotonic() - began
        async with asyncio.timeout(HANG_SECONDS):
            while await redis.llen(f"rq:queue:{queue.name}") == 0 or await unqueued(sessions):
                await asyncio.sleep(0.02)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        await loop.stop()
    # Unpaced, a pass followed each vote's kick (a vote is counted in a few milliseconds here).
    assert len(passes) <= elapsed / QUEUED_PACE_SECONDS + 2, (len(passes), elapsed)


async def unqueued(sessions: Sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.enqueued_at.is_(None))) or 0
