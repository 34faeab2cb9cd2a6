"""RQ job functions. Each runs in a fresh event loop, so it opens and closes its own clients."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from redis.asyncio import Redis

from gateway.channel_list import CHANNELS, channel
from gateway.config import Settings
from gateway.core.payments import in_chat
from gateway.core.payments.starts import start_payment
from gateway.core.payments.verification import Verified, verify_due
from gateway.core.payments.verification_by_list import verify_by_list
from gateway.core.providers import PaymentError
from gateway.core.receipts import RECEIPT_TOPICS, ReceiptSender, send_receipt
from gateway.core.service import PaymentStarter, VoteService
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.jobs import outbox
from gateway.jobs.checkpoints import checkpoint_pass
from gateway.jobs.last_passes import note_pass
from gateway.jobs.leases import lease_held
from gateway.jobs.queues import job_queue, sync_redis
from gateway.jobs.reconciler import reconcile
from gateway.jobs.status_pacing import reconciler_pace
from gateway.results_key import signing_key
from leaderboard.boards import Boards
from leaderboard.cache import refresh_contest
from payments.registry import ProviderRegistry, build_registry
from payments.stars import StarsInvoices
from payments.stars.listing import PAGE_SIZE as STARS_PAGE_SIZE
from payments.stars.listing import ListingRead
from payments.stars.listing import incoming_payment as incoming_stars_payment

log = logging.getLogger(__name__)
T = TypeVar("T")
RECONCILE_LEASE = "lease:reconcile"
RECONCILE_LEASE_SECONDS = 30.0  # how long a killed worker's pass can keep the next one waiting
# A pass stops here (the next one carries on), under the job's own time-out (worker.PERIODIC_JOB_TIMEOUT):
# a renewed lease must not let one stuck pass keep every other away for hours.
RECONCILE_PASS_SECONDS = 200.0  # plus one order (a restarted start can take 80 s) stays under 300
VERIFICATIONS_PER_PASS = 100  # ~50 s at the reconciler's 2 status calls a second (MTN)


BOARD_CONTEST_TTL = 5.0  # a job's board reader keeps a contest's settings this long


@dataclass
class JobContext:
    """What a job uses; channels' jobs see it as `gateway.channel_parts.JobResources`."""

    settings: Settings
    sessions: Sessions
    redis: Redis
    providers: ProviderRegistry
    receipt_senders: Mapping[str, ReceiptSender] = field(default_factory=dict)

    def vote_service(self, starts: PaymentStarter) -> VoteService:
        return VoteService(self.sessions, self.providers, Boards(self.sessions, self.redis, BOARD_CONTEST_TTL), starts,
                           pending_ttl=timedelta(seconds=self.settings.order_pending_ttl_seconds))

    async def start_payment(self, order_id: uuid.UUID) -> object:
        return await start_payment(self.sessions, self.providers, order_id)

    async def relay_now(self) -> None:
        await relay_now(self)


def build_receipt_senders(settings: Settings, sessions: Sessions,
                          http: httpx.AsyncClient) -> dict[str, ReceiptSender]:
    """The channels that message a voter once their order is decided (gateway.core.receipts)."""
    senders = {parts.name: parts.receipts(settings, sessions, http) for parts in CHANNELS if parts.receipts}
    return {name: sender for name, sender in senders.items() if sender is not None}


def channel_job(channel_name: str, job: str, *args: Any) -> Any:
    """The RQ job of every channel's job (gateway.channel_parts.enqueue_channel_job): run it in this worker's
    runtime."""
    work = channel(channel_name).jobs[job]
    return run_in_context(lambda ctx: work(ctx, *args))


@asynccontextmanager
async def job_context() -> AsyncIterator[JobContext]:
    settings = Settings()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("a job needs DATABASE_URL and REDIS_URL (set by `gateway run` or the deployment)")
    engine = create_engine(settings.database_url, pool_size=5)
    redis = Redis.from_url(settings.redis_url)
    http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))
    registry = build_registry(settings, http)
    sessions = session_factory(engine)
    try:
        yield JobContext(settings, sessions, redis, registry, build_receipt_senders(settings, sessions, http))
    finally:
        await registry.aclose()
        await http.aclose()
        await redis.aclose()
        await engine.dispose()


class JobRuntime:
    """The event loop and clients that a worker process's jobs share.

    RQ jobs are synchronous calls; each one hands its coroutine to this loop (in its own thread),
    so a worker pays for connections once, not per job (a fresh loop and engine per job caps a
    worker at a few jobs a second).
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="job-runtime", daemon=True)
        self._thread.start()
        self._stack: AsyncExitStack | None = None
        self._context: JobContext | None = None

    def run(self, work: Callable[[JobContext], Awaitable[T]]) -> T:
        future = asyncio.run_coroutine_threadsafe(self._run(work), self._loop)
        try:
            return future.result()
        except BaseException:  # e.g. RQ's job time-out, raised in this thread: stop the work too
            future.cancel()
            raise

    async def _run(self, work: Callable[[JobContext], Awaitable[T]]) -> T:
        if self._context is None:
            self._stack = AsyncExitStack()
            self._context = await self._stack.enter_async_context(job_context())
        return await work(self._context)

    def close(self) -> None:
        if self._stack is not None:
            asyncio.run_coroutine_threadsafe(self._stack.aclose(), self._loop).result(timeout=30)
            self._stack, self._context = None, None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


class _Runtimes:
    """The one runtime of this process; a forked child (RQ's forking worker) builds its own."""

    current: JobRuntime | None = None

    @classmethod
    def get(cls) -> JobRuntime:
        if cls.current is None:
            cls.current = JobRuntime()
        return cls.current

    @classmethod
    def close(cls) -> None:
        if cls.current is not None:
            cls.current.close()
            cls.current = None

    @classmethod
    def forget(cls) -> None:
        cls.current = None  # in a forked child, the parent's loop thread does not exist


os.register_at_fork(after_in_child=_Runtimes.forget)
atexit.register(_Runtimes.close)
close_runtime = _Runtimes.close


def run_in_context(work: Callable[[JobContext], Awaitable[T]]) -> T:
    return _Runtimes.get().run(work)


BOARD_TOPICS = ("vote.confirmed", "vote.uncounted")


def board_refresh(sessions: Sessions, redis: Redis) -> dict[str, outbox.BatchHandler]:
    """The board changes: one refresh per contest however many votes a batch carries."""

    async def refresh(payloads: list[dict[str, Any]]) -> None:
        for contest_id in sorted({int(p["contest_id"]) for p in payloads}):
            await refresh_contest(sessions, redis, contest_id)

    return dict.fromkeys(BOARD_TOPICS, refresh)


def outbox_handlers(ctx: JobContext) -> dict[str, outbox.Handler]:
    """What each outbox topic does once its transaction has committed (rows the relay queued)."""
    batch = board_refresh(ctx.sessions, ctx.redis)

    def single(topic: str) -> outbox.Handler:
        return lambda payload: batch[topic]([payload])

    def receipt(topic: str) -> outbox.Handler:
        async def send(payload: dict[str, Any]) -> None:
            await send_receipt(ctx.sessions, ctx.receipt_senders, topic, payload)
        return send

    return {topic: single(topic) for topic in BOARD_TOPICS} | {topic: receipt(topic) for topic in RECEIPT_TOPICS}


def deliver_outbox_job(outbox_id: int) -> bool:
    return run_in_context(lambda ctx: outbox.deliver(ctx.sessions, outbox_id, outbox_handlers(ctx)))


def relay_outbox_job() -> int:
    """The relay's safety net (the web process relays at once after each confirmation)."""
    return run_in_context(relay_pass)


async def relay_pass(ctx: JobContext) -> int:
    queue = job_queue(sync_redis(ctx.settings.redis_url or ""))

    async def enqueue(ids: list[int]) -> int:
        return await asyncio.to_thread(outbox.enqueue_deliveries, queue, ids)

    relayed = await outbox.relay_outbox(ctx.sessions, enqueue, board_refresh(ctx.sessions, ctx.redis))
    await note_pass(ctx.redis, "relay")
    return relayed


def reconcile_job() -> str:
    """One reconciler pass; a lease keeps two passes from checking the same orders at once."""

    return run_in_context(reconcile_pass)


async def reconcile_pass(ctx: JobContext, lease_seconds: float = RECONCILE_LEASE_SECONDS) -> str:
    async with lease_held(ctx.redis, RECONCILE_LEASE, lease_seconds) as held:
        if not held:
            # The lease is renewed only while its holder runs: a long pass (hundreds of due orders paced
            # under MTN's cap) is alive, and /readyz must not call the reconciler silent meanwhile.
            await note_pass(ctx.redis, "reconcile")
            return "another pass is running"
        report = await reconcile(ctx.sessions, ctx.providers, pace=reconciler_pace(ctx.redis),
                                 stop_after=RECONCILE_PASS_SECONDS)
        # Callback verification: the reconciler's share of the cap verifies what is due too.
        verified = await verify_due(ctx.sessions, ctx.providers, pace=reconciler_pace(ctx.redis),
                                    limit=VERIFICATIONS_PER_PASS)
        await note_pass(ctx.redis, "reconcile")  # the age /metrics and /readyz watch
    if report.changed or any(outcome is Verified.DISAGREED for _, outcome in verified):
        await relay_now(ctx)
        log.info("reconciler: %s", report.summary())
    return report.summary()


async def relay_now(ctx: JobContext) -> None:
    queue = job_queue(sync_redis(ctx.settings.redis_url or ""))
    await outbox.relay_outbox(ctx.sessions, lambda ids: asyncio.to_thread(outbox.enqueue_deliveries, queue, ids),
                              board_refresh(ctx.sessions, ctx.redis))


# Telegram: Stars payments the webhook missed, found in getStarTransactions (newest first, ListingRead checks).
STARS_SEEN_KEY = "telegram:stars:seen-until"  # Unix time of the newest transaction a whole pass read
STARS_OVERLAP_SECONDS = 600  # read back this far past it (clocks, one second's transactions): settling is idempotent
STARS_PAGES_PER_PASS = 10


def stars_check_job() -> int:
    """Every minute (gateway.worker.PERIODIC_JOBS): Stars payments whose update never reached the webhook."""
    return run_in_context(stars_check_pass)


async def stars_check_pass(ctx: JobContext) -> int:
    """Settle every Stars payment listed since the last whole pass (idempotent: one already counted is left as
    it is); how many counted. Telegram lists the newest first, so each pass reads from the top down to where
    the last one began; only a pass that read every transaction since then moves that mark on. Should the
    dates ever go up (the list oldest first), only the end of the list makes a pass whole (ListingRead)."""
    stars = ctx.providers.providers.get("stars")
    if not isinstance(stars, StarsInvoices):
        return 0
    seen = await ctx.redis.get(STARS_SEEN_KEY)
    back_to = int(seen) - STARS_OVERLAP_SECONDS if seen else None
    read = ListingRead(frozenset(), back_to or 0)
    listed: list[dict[str, Any]] = []
    for page_number in range(STARS_PAGES_PER_PASS):
        try:
            page = await stars.transaction_page(page_number * STARS_PAGE_SIZE)
        except PaymentError as exc:  # Telegram away: the next pass (a minute on) reads again from the top
            log.warning("stars check: %s", exc.message)
            return await stars_counted(ctx, await settle_listed_stars(ctx, listed, read.refunded))
        read.take(page)
        listed += [t for t in page if back_to is None or int(t.get("date") or 0) >= back_to]
        if read.back_to_since:
            break
    counted = await settle_listed_stars(ctx, listed, read.refunded)
    if read.back_to_since or (back_to is None and read.newest_first):
        # The first pass ever reads its pages only: payments older than those are long settled.
        newest = max((int(t.get("date") or 0) for t in listed), default=0)
        if newest:
            await ctx.redis.set(STARS_SEEN_KEY, max(newest, int(seen or 0)))
    else:  # a burst, or a list oldest first: the next pass reads from the top again, to the same mark
        log.warning("stars check: stopped after %d pages before the last pass's mark%s", STARS_PAGES_PER_PASS,
                    "" if read.newest_first else " (Telegram listed the oldest first)")
    return await stars_counted(ctx, counted)


async def stars_counted(ctx: JobContext, counted: int) -> int:
    if counted:
        log.info("stars check: %d missed payments counted", counted)
        await relay_now(ctx)
    return counted


async def settle_listed_stars(ctx: JobContext, transactions: list[dict[str, Any]], refunded: set[str]) -> int:
    """Settle the incoming payments among `transactions` once each; how many of them this counted. A payment
    whose refund is listed too was given back already: counting it would send a receipt for votes that the
    verification pass then takes back off."""
    counted = 0
    for transaction in transactions:
        if (payment := incoming_stars_payment(transaction)) is not None and payment.charge_id not in refunded:
            outcome, _ = await in_chat.settle_chat_payment(ctx.sessions, ctx.providers, "stars", in_chat.ChatPayment(
                payment.payload, payment.charge_id, payment.amount, "XTR"))
            counted += outcome is in_chat.ChatPaymentOutcome.COUNTED
    return counted


def verify_by_list_job() -> int:
    """Every 30 s (gateway.worker.PERIODIC_JOBS): counted Stars payments checked against Telegram's list."""
    return len(run_in_context(verify_by_list_pass))


async def verify_by_list_pass(ctx: JobContext) -> list[tuple[uuid.UUID, Verified]]:
    """One read of each listing provider's payments (Stars: `getStarTransactions`) for all its due entries of
    the verification queue; the board moves at once when votes were taken back off or refunded."""
    verified: list[tuple[uuid.UUID, Verified]] = []
    wait_for = timedelta(seconds=ctx.settings.stars_verify_within_seconds)
    for provider, payments in ctx.providers.payment_lists().items():
        verified += await verify_by_list(ctx.sessions, provider, payments, now=datetime.now(UTC), wait_for=wait_for)
    if any(outcome in (Verified.DISAGREED, Verified.REFUNDED) for _, outcome in verified):
        await relay_now(ctx)
    return verified


# The vote ledger: hourly checkpoints, and at close a checkpoint and a signed results sheet.
LEDGER_ROUNDS_SECONDS = 300


def ledger_checkpoint_job() -> list[str]:
    return run_in_context(ledger_checkpoint_pass)


async def ledger_checkpoint_pass(ctx: JobContext) -> list[str]:
    done = await checkpoint_pass(ctx.sessions, signing_key(ctx.settings), datetime.now(UTC))
    if done:
        log.info("ledger: %s", ", ".join(done))
    return done
