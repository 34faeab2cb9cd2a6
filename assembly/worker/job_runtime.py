"""The worker's job runtime: what a job runs with (`JobContext`: the wings' `PassResources`, the channels' and
providers' `JobResources`), and the one event loop and clients a worker process's jobs share. The passes are listed
and run by `assembly.worker.passes`."""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from rq import Queue

from assembly.channel_list import CHANNELS, CONTEST_SETTINGS, RECEIPT_CHANNELS
from assembly.machine.database_connections import WORKER_POOL
from assembly.resources.http_client import provider_http_client
from assembly.resources.media import build_storage
from assembly.resources.provider_calls import call_noter
from assembly.resources.providers import build_providers
from assembly.resources.results_key import signing_key
from assembly.settings import Settings
from gateway.core.contests.kept_catalog import KeptCatalog
from gateway.core.media_storage import MediaStorage
from gateway.core.money_in.start_protocol import PaymentStarter
from gateway.core.money_in.starting import ClaimedStart, start_payment
from gateway.core.orders.receipts import ReceiptSender
from gateway.core.phone_texts import PhoneTexter
from gateway.core.service import VoteService
from gateway.core.worker_passes import Pace
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.jobs import outbox
from gateway.jobs.pass_notes import RedisNotes
from gateway.jobs.queues import job_queue, sync_redis
from gateway.jobs.redis_connections import async_client
from gateway.kit.phone_wallets import PhoneWallets
from gateway.kit.service_levels import ServiceLevels
from gateway.kit.status_pacing import spare_pace
from leaderboard.boards import Boards
from leaderboard.refresh import board_refresh
from payments.registry import ProviderRegistry

T = TypeVar("T")

BOARD_CONTEST_TTL = 5.0  # a job's board reader keeps a contest's settings this long


@dataclass
class JobContext:
    """What a job uses; channels' jobs see it as `gateway.kit.channel_parts.JobResources`."""

    settings: Settings
    sessions: Sessions
    redis: Redis
    providers: ProviderRegistry
    receipt_senders: Mapping[str, ReceiptSender] = field(default_factory=dict)
    texters: Mapping[str, PhoneTexter] = field(default_factory=dict)  # by channel: texts to any number
    media: MediaStorage | None = None
    # The worker's share of the measured figures (its relay's board frames, its calls to the providers): served by
    # the web processes where they share the host's figures (assembly.machine.shared_metrics), else nowhere.
    levels: ServiceLevels = field(default_factory=lambda: ServiceLevels(CollectorRegistry()))
    # The public contests as the process's jobs read them a moment ago (an SMS job's answer is worded from them)
    kept: KeptCatalog = field(default_factory=KeptCatalog)
    shared: dict[str, Any] = field(default_factory=dict, repr=False)  # kept_for_jobs's objects, by name

    @property
    def phone_wallets(self) -> PhoneWallets:
        return self.providers.phone_wallets

    def vote_service(self, starts: PaymentStarter) -> VoteService:
        return VoteService(self.sessions, self.providers, Boards(self.sessions, self.redis, BOARD_CONTEST_TTL), starts,
                           pending_ttl=timedelta(seconds=self.settings.order_pending_ttl_seconds),
                           contest_settings=CONTEST_SETTINGS, receipt_channels=RECEIPT_CHANNELS, storage=self.media,
                           kept=self.kept)

    async def start_payment(self, order_id: uuid.UUID, claimed: ClaimedStart | None = None) -> object:
        return await start_payment(self.sessions, self.providers, order_id, claimed)

    async def relay_now(self) -> None:
        await relay_now(self)

    async def hand_over(self, enqueue: Callable[[Queue, list[int]], int], ids: list[int]) -> int:
        """Outbox rows handed to RQ by `enqueue` (gateway.jobs.outbox's), in a thread (RQ is synchronous), on the
        synchronous Redis client the process's jobs share: not a client, and a connection, made for every pass."""
        client = self.kept_for_jobs("rq.redis", lambda: sync_redis(self.settings.redis_url or ""))
        return await asyncio.to_thread(enqueue, job_queue(client), ids)

    def kept_for_jobs(self, name: str, make: Callable[[], T]) -> T:
        if name not in self.shared:
            self.shared[name] = make()
        kept: T = self.shared[name]
        return kept

    def close_shared(self) -> None:
        for kept in self.shared.values():
            if callable(close := getattr(kept, "close", None)):
                close()
        self.shared.clear()

    def pace(self, role: str) -> Pace:
        return spare_pace(self.redis, role)

    @property
    def notes(self) -> RedisNotes:
        return RedisNotes(self.redis)

    def results_key(self) -> Ed25519PrivateKey:
        return signing_key(self.settings)


def build_receipt_senders(settings: Settings, sessions: Sessions,
                          http: httpx.AsyncClient) -> dict[str, ReceiptSender]:
    """The channels that message a voter once their order is decided (gateway.core.orders.receipts)."""
    senders = {parts.name: parts.receipts(settings, sessions, http) for parts in CHANNELS if parts.receipts}
    return {name: sender for name, sender in senders.items() if sender is not None}


@asynccontextmanager
async def job_context() -> AsyncIterator[JobContext]:
    settings = Settings()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("a job needs DATABASE_URL and REDIS_URL (set by `gateway run` or the deployment)")
    engine = create_engine(settings.database_url, pool_size=WORKER_POOL, max_overflow=WORKER_POOL)
    redis = async_client(settings.redis_url)
    levels = ServiceLevels(CollectorRegistry())
    http = provider_http_client(note=call_noter(settings, levels))
    registry = build_providers(settings, http, redis=redis)
    sessions = session_factory(engine)
    try:
        texters = {parts.name: parts.texts_phones(settings, sessions, http) for parts in CHANNELS if parts.texts_phones}
        context = JobContext(settings, sessions, redis, registry, build_receipt_senders(settings, sessions, http),
                             texters, build_storage(settings, http), levels)
        try:
            yield context
        finally:
            context.close_shared()
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


async def relay_now(ctx: JobContext) -> None:
    await outbox.relay_outbox(ctx.sessions, partial(ctx.hand_over, outbox.enqueue_delivery_batches),
                              board_refresh(ctx.sessions, ctx.redis), handled=ctx.levels.note_frames)
