"""The worker's own passes, those that need the roof's parts (the board's refresh, the results' signing key, the
outbox's handlers): the outbox's delivery and relay, the reconciler (its body is money in's,
gateway.core.money_in.passes), the daily money check, the ledger's checkpoints. Each is a `WorkerPass`
(gateway.core.worker_passes) run in the process's job runtime (`assembly.job_runtime`); the wings' own passes are in
their folders, a provider's in its parts (`ProviderParts.jobs`), all listed in `assembly.passes`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from assembly.job_runtime import JobContext, relay_now
from assembly.periodic_enqueuer import PERIODIC_JOB_TIMEOUT
from assembly.results_key import signing_key
from gateway.core.fraud.holds import HELD_TOPIC
from gateway.core.money_in import passes as money_in_passes
from gateway.core.money_in.found_paid import note_found_paid
from gateway.core.money_in.passes import SLOWEST_VERIFICATION_CALL, ReconcileParts, ReconcileTimes
from gateway.core.orders.held_together import hold_earlier
from gateway.core.orders.receipts import RECEIPT_TOPICS, send_receipt
from gateway.core.worker_passes import WorkerPass
from gateway.jobs import outbox
from gateway.jobs.balance_check import check_balances
from gateway.jobs.checkpoints import checkpoint_pass
from gateway.jobs.last_passes import RECONCILE_INTERVAL_SECONDS, RELAY_INTERVAL_SECONDS, note_pass
from gateway.jobs.leases import lease_held
from gateway.jobs.money_reconciliation import Budget, Resume, reconcile_money
from gateway.jobs.queues import job_queue, sync_redis
from gateway.kit.status_pacing import SPARE_PATIENCE, reconciler_pace, spare_pace
from leaderboard.rebuild import follow_redis
from leaderboard.refresh import BOARD_TOPICS, board_refresh
from media.passes import media_handlers

log = logging.getLogger(__name__)
RECONCILE_LEASE = "lease:reconcile"
RECONCILE_LEASE_SECONDS = 30.0  # how long a killed worker's pass can keep the next one waiting
# A day of a big show takes more status calls than one pass may make (on the status turns pending orders' checks
# leave, 9 a second of MTN's at most): each pass reads its share, and says where the next one goes on.
MONEY_CHECK_PASS_SECONDS = 120.0
MONEY_CHECK_KEPT_SECONDS = 3 * 24 * 3600  # a day read, or where its reading stopped
BALANCE_READ_SECONDS = 3300  # the balances are read about once an hour
BALANCES_READ = "money-check:balances"


# The reconciler's pass ends within its periodic job's time-out, a verification within the kit's patience for a spare
# turn and its slowest provider call (gateway.core.money_in.passes.ReconcileTimes).
RECONCILE_TIMES = ReconcileTimes(job_timeout=PERIODIC_JOB_TIMEOUT,
                                 verification=SPARE_PATIENCE + SLOWEST_VERIFICATION_CALL)


def outbox_handlers(ctx: JobContext) -> dict[str, outbox.Handler]:
    """What each outbox topic does once its transaction has committed (rows the relay queued)."""
    batch = board_refresh(ctx.sessions, ctx.redis)

    def single(topic: str) -> outbox.Handler:
        return lambda payload: batch[topic]([payload])

    def receipt(topic: str) -> outbox.Handler:
        async def send(payload: dict[str, Any]) -> None:
            await send_receipt(ctx.sessions, ctx.receipt_senders, topic, payload, ctx.providers)
        return send

    async def hold_with(payload: dict[str, Any]) -> None:  # its payer's orders just before it were the same act
        await hold_earlier(ctx.sessions, uuid.UUID(str(payload["order_id"])))

    return ({topic: single(topic) for topic in BOARD_TOPICS} | {topic: receipt(topic) for topic in RECEIPT_TOPICS}
            | {HELD_TOPIC: hold_with} | media_handlers(ctx))


async def deliver_outbox(ctx: JobContext, outbox_id: int) -> bool:
    return await outbox.deliver(ctx.sessions, outbox_id, outbox_handlers(ctx))


async def relay_pass(ctx: JobContext) -> int:
    """The relay's safety net (the web process relays at once after each confirmation)."""
    queue = job_queue(sync_redis(ctx.settings.redis_url or ""))

    async def enqueue(ids: list[int]) -> int:
        return await asyncio.to_thread(outbox.enqueue_deliveries, queue, ids)

    rebuilt = await follow_redis(ctx.sessions, ctx.redis)
    if rebuilt is not None:
        log.warning("the boards were on another Redis server (a failover or a restart): %d rebuilt from PostgreSQL",
                    len(rebuilt))
    relayed = await outbox.relay_outbox(ctx.sessions, enqueue, board_refresh(ctx.sessions, ctx.redis),
                                        handled=ctx.levels.note_frames)
    await note_pass(ctx.redis, "relay")
    return relayed


async def requeue_lost_deliveries(ctx: JobContext) -> int:
    """Outbox rows whose RQ job Redis lost (a Sentinel failover promoted a replica that never got it): queued again
    (gateway.jobs.outbox.relay_lost)."""
    queue = job_queue(sync_redis(ctx.settings.redis_url or ""))

    async def enqueue(ids: list[int]) -> int:
        return await asyncio.to_thread(outbox.enqueue_deliveries, queue, ids)

    return await outbox.relay_lost(ctx.sessions, enqueue)


async def reconcile_pass(ctx: JobContext, lease_seconds: float = RECONCILE_LEASE_SECONDS,
                         times: ReconcileTimes = RECONCILE_TIMES) -> str:
    """The reconciler's pass (gateway.core.money_in.passes.reconcile_pass), with the worker's parts it uses."""
    return await money_in_passes.reconcile_pass(ReconcileParts(
        ctx.sessions, ctx.providers, pace=reconciler_pace(ctx.redis), spare_pace=spare_pace(ctx.redis),
        lease=partial(lease_held, ctx.redis, RECONCILE_LEASE, lease_seconds),
        note_pass=partial(note_pass, ctx.redis, "reconcile"), found=partial(note_found_paid, ctx.redis),
        relay_now=partial(relay_now, ctx)), times)


async def money_check_turn(ctx: JobContext) -> str:
    """Yesterday's books against each provider's word, a share of the day per pass until it is read through
    (gateway.jobs.money_reconciliation); every hour, the account balances against the books
    (gateway.jobs.balance_check)."""
    day, lines = datetime.now(UTC).date() - timedelta(days=1), []
    deadline = asyncio.get_running_loop().time() + MONEY_CHECK_PASS_SECONDS
    read_balances = not await ctx.redis.exists(BALANCES_READ)
    for provider in ctx.providers.names():
        done, at = f"money-check:{provider}:{day.isoformat()}", f"money-check-at:{provider}:{day.isoformat()}"
        if not await ctx.redis.exists(done):
            kept = await ctx.redis.get(at)
            report = await reconcile_money(ctx.sessions, ctx.providers, provider, day,
                                           spare_pace(ctx.redis, "money-check"),
                                           resume=Resume.from_json(kept) if kept else None,
                                           budget=Budget(deadline))
            if report.resume is None:
                await ctx.redis.set(done, "1", ex=MONEY_CHECK_KEPT_SECONDS)
                await ctx.redis.delete(at)
            else:
                await ctx.redis.set(at, report.resume.as_json(), ex=MONEY_CHECK_KEPT_SECONDS)
            lines.append(report.summary())
        if read_balances:  # yesterday's differences moved money before the last reading: none explains a move now
            lines += [balance.summary() for balance in await check_balances(ctx.sessions, ctx.providers, provider)]
    if read_balances:  # once they were read: a pass that failed before tries again at the next one
        await ctx.redis.set(BALANCES_READ, "1", ex=BALANCE_READ_SECONDS)
    return "; ".join(lines) or f"{day.isoformat()} read already"


# The vote ledger: hourly checkpoints, and at close a checkpoint and a signed results sheet.
LEDGER_ROUNDS_SECONDS = 300


async def ledger_checkpoint_pass(ctx: JobContext) -> list[str]:
    done = await checkpoint_pass(ctx.sessions, signing_key(ctx.settings), datetime.now(UTC))
    if done:
        log.info("ledger: %s", ", ".join(done))
    return done


PASSES = (
    WorkerPass(outbox.DELIVER_PASS, deliver_outbox),  # queued by the relay, one job per outbox row
    WorkerPass("relay-outbox", relay_pass, every=RELAY_INTERVAL_SECONDS),
    WorkerPass("requeue-lost-deliveries", requeue_lost_deliveries, every=60),
    WorkerPass("reconcile", reconcile_pass, every=RECONCILE_INTERVAL_SECONDS),
    WorkerPass("money-check", money_check_turn, every=300),
    # hourly ledger checkpoints; at close, a checkpoint and a signed results sheet
    WorkerPass("ledger-checkpoint", ledger_checkpoint_pass, every=LEDGER_ROUNDS_SECONDS),
)
