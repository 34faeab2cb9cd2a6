"""The worker's own passes, those that need the roof's parts (the board's refresh, the outbox's handlers): the
outbox's delivery, relay and requeue, and the reconciler (its body is money in's, gateway.core.money_in.passes). Each
is a `WorkerPass` (gateway.core.worker_passes) run in the process's job runtime (`assembly.worker.job_runtime`); the
wings' own passes are in their folders, a channel's or a provider's in its parts (`ChannelParts.passes`,
`ProviderParts.passes`), all listed in `assembly.worker.passes`."""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any

from assembly.worker.job_runtime import JobContext, relay_now
from assembly.worker.periodic_enqueuer import PERIODIC_JOB_TIMEOUT
from gateway.core.fraud.holds import HELD_TOPIC
from gateway.core.money_in import passes as money_in_passes
from gateway.core.money_in.found_paid import note_found_paid
from gateway.core.money_in.passes import SLOWEST_VERIFICATION_CALL, ReconcileParts, ReconcileTimes
from gateway.core.orders.held_together import hold_earlier
from gateway.core.orders.receipts import RECEIPT_TOPICS, send_receipt
from gateway.core.worker_passes import WorkerPass
from gateway.jobs import outbox
from gateway.jobs.last_passes import RECONCILE_INTERVAL_SECONDS, RELAY_INTERVAL_SECONDS, note_pass
from gateway.jobs.leases import lease_held
from gateway.kit.status_pacing import SPARE_PATIENCE, reconciler_pace, spare_pace
from leaderboard.rebuild import follow_redis
from leaderboard.refresh import BOARD_TOPICS, board_refresh
from media.passes import media_handlers

log = logging.getLogger(__name__)
RECONCILE_LEASE = "lease:reconcile"
RECONCILE_LEASE_SECONDS = 30.0  # how long a killed worker's pass can keep the next one waiting


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


async def deliver_outbox_batch(ctx: JobContext, outbox_ids: list[int]) -> int:
    return await outbox.deliver_batch(ctx.sessions, outbox_ids, outbox_handlers(ctx),
                                      partial(ctx.hand_over, outbox.enqueue_deliveries))


async def relay_pass(ctx: JobContext) -> int:
    """The relay's safety net (the web process relays at once after each confirmation)."""
    rebuilt = await follow_redis(ctx.sessions, ctx.redis)
    if rebuilt is not None:
        log.warning("the boards were on another Redis server (a failover or a restart): %d rebuilt from PostgreSQL",
                    len(rebuilt))
    # its completed run is recorded where passes are run (assembly.worker.passes.pass_job): /readyz and /metrics watch
    # it
    return await outbox.relay_outbox(ctx.sessions, partial(ctx.hand_over, outbox.enqueue_delivery_batches),
                                     board_refresh(ctx.sessions, ctx.redis), handled=ctx.levels.note_frames)


async def requeue_lost_deliveries(ctx: JobContext) -> int:
    """Outbox rows whose RQ job Redis lost (a Sentinel failover promoted a replica that never got it): queued again
    (gateway.jobs.outbox.relay_lost)."""
    return await outbox.relay_lost(ctx.sessions, partial(ctx.hand_over, outbox.enqueue_deliveries))


async def reconcile_pass(ctx: JobContext, lease_seconds: float = RECONCILE_LEASE_SECONDS,
                         times: ReconcileTimes = RECONCILE_TIMES) -> str:
    """The reconciler's pass (gateway.core.money_in.passes.reconcile_pass), with the worker's parts it uses."""
    return await money_in_passes.reconcile_pass(ReconcileParts(
        ctx.sessions, ctx.providers, pace=reconciler_pace(ctx.redis), spare_pace=spare_pace(ctx.redis),
        lease=partial(lease_held, ctx.redis, RECONCILE_LEASE, lease_seconds),
        note_pass=partial(note_pass, ctx.redis, "reconcile"), found=partial(note_found_paid, ctx.redis),
        relay_now=partial(relay_now, ctx)), times)


PASSES = (
    WorkerPass(outbox.DELIVER_BATCH_PASS, deliver_outbox_batch),  # queued by the relay, a job per pass's chunk
    WorkerPass(outbox.DELIVER_PASS, deliver_outbox),  # one row: a batch's failure, or handed over again
    WorkerPass("relay-outbox", relay_pass, every=RELAY_INTERVAL_SECONDS),
    WorkerPass("requeue-lost-deliveries", requeue_lost_deliveries, every=60),
    WorkerPass("reconcile", reconcile_pass, every=RECONCILE_INTERVAL_SECONDS),
)
