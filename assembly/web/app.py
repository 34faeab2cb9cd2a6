"""The aiohttp application: resources in cleanup contexts, then each package's routes."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

import admin
from admin.keys import (
    CHANNEL_NAMES,
    CONTEST_SETTINGS,
    FAILED_MESSAGES,
    LEVELS_SOURCE,
    WATCHED_PASSES,
)
from assembly import channel_list, provider_list
from assembly.channel_list import CHANNELS
from assembly.cpu.accounts import flushing
from assembly.machine.database_connections import BOARD_CONNECTIONS, REQUEST_CONNECTIONS, VERIFICATION_CONNECTIONS
from assembly.machine.shared_metrics import levels_source
from assembly.resources.http_client import provider_http_client
from assembly.resources.media import build_storage
from assembly.resources.provider_calls import call_noter
from assembly.resources.providers import build_providers
from assembly.resources.results_key import signing_key
from assembly.settings import Settings, check_production
from assembly.web import health
from assembly.web.keys import ENGINE, METRICS, PROVIDER_LIST, STARTS
from assembly.web.loop_watch import LoopWatch, watching
from assembly.web.metrics import Metrics
from assembly.web.middleware import body_deadline, cpu_by_part, json_errors, request_context
from assembly.worker.passes import SILENT_AFTER
from channels.web.candidate_pages import HOW_TO_VOTE
from gateway.core.money_in.checking import StartNotRecorded, check_payment
from gateway.core.money_in.start_queue import PaymentStarts
from gateway.core.money_in.starting import recorded_start
from gateway.core.money_in.verification.loop import VerificationLoop
from gateway.core.orders.count_batches import CountBatches
from gateway.core.orders.outcomes import Outcome
from gateway.core.service import VOTE_SERVICE, VoteService
from gateway.db.engine import create_engine, session_factory
from gateway.db.models import Contest, ContestStatus
from gateway.jobs.check_queue import PaymentChecks
from gateway.jobs.queues import job_queue, sync_redis
from gateway.jobs.redis_connections import bounded_async_client
from gateway.jobs.relay import RelayLoop
from gateway.kit.keys import (
    CHECKS,
    HTTP,
    MEDIA_STORAGE,
    PHONE_WALLETS,
    PROVIDERS,
    QUEUE,
    REDIS,
    RELAY,
    RESULTS_KEY,
    SESSIONS,
    SETTINGS,
    settings_of,
)
from gateway.kit.provider_parts import ProviderParts, phone_wallets
from gateway.kit.service_levels import ServiceLevels
from gateway.kit.status_pacing import StatusPacer, spare_pace
from leaderboard import routes as leaderboard_routes
from leaderboard.keys import LEADERBOARD_BOARDS, LEADERBOARD_SESSIONS
from leaderboard.refresh import board_refresh
from media import cloudinary_routes
from payments.callbacks import COUNT_BATCHES, SERVICE_LEVELS

MAX_BODY_BYTES = 64 * 1024  # no inbound callback or vote needs more
# A web request's statements take milliseconds; one unanswered this long is on a dead connection.
STATEMENT_TIMEOUT_SECONDS = 30.0
# A callback's check that came before its order's start was recorded in another process waits at most this long for
# the record (a start records within milliseconds of the provider's answer, more under load), then asks again.
START_RECORD_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class LentEngines:
    """Database engines the app's host lends it: the app uses them as its own, but neither makes nor disposes them.
    The test suite lends one pair to the hundreds of apps a test process builds, where each app's own would connect
    anew: a PostgreSQL backend and asyncpg's look-up of our types for each connection, most of a short test's cost."""

    requests: AsyncEngine
    verification: AsyncEngine
    board: AsyncEngine


LENT_ENGINES = web.AppKey("lent_engines", LentEngines)


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    # A busy web process uses more than 10 connections at once: keep them rather than reconnect. No overflow:
    # an overflow connection is closed as soon as it is returned, and each new one costs PostgreSQL a
    # backend and asyncpg a look-up of our types (hundreds of catalog rows). Under bench.votes' 64 voters,
    # 16 + 4 overflow opened a connection every 15 votes, 24 + 8 one every 6; 24 + 0 one every 37, and
    # PostgreSQL's CPU per vote fell by half. Past 24, a request waits its turn (2 cores gain nothing
    # from more statements at once); the total is no lower than the 20 it was.
    lent = app.get(LENT_ENGINES)
    engine = lent.requests if lent is not None else create_engine(
        app[SETTINGS].database_url or "", pool_size=REQUEST_CONNECTIONS, max_overflow=0,
        statement_timeout_seconds=STATEMENT_TIMEOUT_SECONDS)
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    # The board's own few: under a show's load every request connection is taken, voters' requests queue for them,
    # and a frame that queued behind them was seconds late (its refresh's read, its contest's settings).
    board = lent.board if lent is not None else create_engine(
        app[SETTINGS].database_url or "", pool_size=BOARD_CONNECTIONS, max_overflow=0,
        statement_timeout_seconds=STATEMENT_TIMEOUT_SECONDS)
    app[LEADERBOARD_SESSIONS] = session_factory(board)
    yield
    if lent is None:
        await engine.dispose()
        await board.dispose()


async def production_checks_ctx(app: web.Application) -> AsyncIterator[None]:
    """In production, refuse to serve while a contest uses a provider without credentials."""
    settings = settings_of(app, Settings)
    if settings.is_production:
        async with app[SESSIONS]() as session:
            live = Contest.status != ContestStatus.CLOSED
            rows = await session.scalars(select(func.unnest(Contest.providers)).where(live).distinct())
            providers = set(rows)
            channel_problems = [problem for parts in CHANNELS if parts.production_problems
                                for problem in await parts.production_problems(settings, session)]
            check_production(settings, providers, channel_problems, app[PROVIDER_LIST])
    yield


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    url = app[SETTINGS].redis_url or ""
    # A blocking pool: under a burst, requests wait briefly for a connection rather than fail.
    # Redis away (restarting): a connection attempt gives up after 2 s and callers degrade (votes go
    # on, the board comes from PostgreSQL). No retries here: they nest, and would stack up to
    # minutes against a Redis that accepts connections but does not answer.
    # Behind Sentinel the pool is as bounded and blocking (gateway.jobs.redis_connections.BlockingSentinelPool).
    app[REDIS] = bounded_async_client(url, max_connections=200, timeout=5, health_check_interval=30,
                                      socket_connect_timeout=2)
    queue_connection = sync_redis(url)
    app[QUEUE] = job_queue(queue_connection)
    yield
    await app[REDIS].aclose(close_connection_pool=True)
    queue_connection.close()


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    """One shared HTTP client for every provider; short time-outs, retries are ours to decide."""
    note = call_noter(settings_of(app, Settings), app[SERVICE_LEVELS], app[PROVIDER_LIST])
    async with provider_http_client(note=note) as client:
        app[HTTP] = client
        yield


async def media_ctx(app: web.Application) -> AsyncIterator[None]:
    """The media storage: grants and URLs only, no file passes through a web process."""
    app[MEDIA_STORAGE] = build_storage(settings_of(app, Settings), app[HTTP])
    yield


async def providers_ctx(app: web.Application) -> AsyncIterator[None]:
    registry = build_providers(settings_of(app, Settings), app[HTTP], app[PROVIDER_LIST], app[REDIS])
    app[PROVIDERS] = registry
    yield
    await registry.aclose()


async def relay_ctx(app: web.Application) -> AsyncIterator[None]:
    """The work a web process does after its reply: relay, status checks, payment prompts."""
    levels = app[SERVICE_LEVELS]
    # The relay's local work is the board's, on the board's connections: each row it handles is a frame published.
    board = app[LEADERBOARD_SESSIONS]
    relay = RelayLoop(app[SESSIONS], app[QUEUE], board_refresh(board, app[REDIS]), handled=levels.note_frames,
                      local_sessions=board)
    pacer = StatusPacer(app[REDIS], waited=levels.note_status_turn)
    app[RELAY] = relay
    relay.start()

    async def recorded_since(order_id: uuid.UUID) -> bool:
        return await recorded_start(app[SESSIONS], order_id, timeout=START_RECORD_WAIT_SECONDS) is not None

    async def check_then_relay(order_id: uuid.UUID) -> None:
        try:
            outcome = await check_payment(app[SESSIONS], app[PROVIDERS], order_id, note=False, pace=pacer.wait_turn)
        except StartNotRecorded:
            outcome = Outcome.START_UNDER_WAY
        if outcome is Outcome.START_UNDER_WAY:  # the provider's word came before its start's record: asked after it
            if await app[STARTS].wait_done(order_id):  # this process's start
                checks.request(order_id)
            else:  # another process's: once it is recorded (else the reconciler's)
                checks.request_later(order_id, 0, lambda: recorded_since(order_id))
        elif outcome is Outcome.START_AGAIN:  # its prompt will never be paid: a new one, retried while the phone's held
            app[STARTS].request(order_id)
        elif outcome is not Outcome.PENDING:
            relay.kick()

    checks = PaymentChecks(check_then_relay)
    app[CHECKS] = checks
    lanes = app[SETTINGS].count_batch_lanes
    batches = CountBatches(app[SESSIONS], lanes=lanes) if lanes else None
    app[COUNT_BATCHES] = batches
    # The starts' records batched apart from the counts: a count's batch may wait on a contest's locks, a record's
    # touches only its own order.
    records = CountBatches(app[SESSIONS], lanes=lanes) if lanes else None
    starts = PaymentStarts.of_process(app[SESSIONS], app[PROVIDERS], waited=levels.note_start_wait, records=records)
    app[STARTS] = starts
    yield
    if batches is not None:
        await batches.close()  # the counts taken in before the relay that announces them stops
    await starts.close()
    if records is not None:
        await records.close()
    await checks.close()
    await relay.stop()


async def vote_service_ctx(app: web.Application) -> AsyncIterator[None]:
    """The channels' one API, from what the other contexts made (the board reader included)."""
    app[VOTE_SERVICE] = VoteService(
        app[SESSIONS], app[PROVIDERS], app[LEADERBOARD_BOARDS], app[STARTS],
        pending_ttl=timedelta(seconds=app[SETTINGS].order_pending_ttl_seconds),
        contest_settings=channel_list.CONTEST_SETTINGS, receipt_channels=channel_list.RECEIPT_CHANNELS,
        storage=app[MEDIA_STORAGE],
    )
    yield


LOOP_WATCH = web.AppKey("loop_watch", LoopWatch)


async def loop_watch_ctx(app: web.Application) -> AsyncIterator[None]:
    """Event-loop lag, stuck-loop stacks and GC pauses (assembly/web/loop_watch.py): what a slow p99 was."""
    app[LOOP_WATCH] = LoopWatch(app[METRICS].registry)
    async with watching(app[LOOP_WATCH]):
        yield


async def cpu_ctx(app: web.Application) -> AsyncIterator[None]:
    """Each part's CPU (assembly/cpu/accounts.py) added to /metrics' counter every second."""
    async with flushing(app[METRICS].cpu):
        yield


async def freeze_startup_objects(app: web.Application) -> None:
    """Everything built at start-up lives as long as the process: keep it out of every later collection
    (a full collection walking the pools, caches and compiled statements is a pause every voter feels).
    The web process's (gateway web) only: tests build many apps and must see each one's leaks. The collection
    holds the loop for a while, on purpose: the stall watchdog is told so."""
    keep_built(app)


def keep_built(app: web.Application) -> None:
    """Keep out of later collections what is built by now (`gateway.kit.keys.KEEP_BUILT`)."""
    with app[LOOP_WATCH].expected_pause():
        gc.collect()
        gc.freeze()


async def heartbeat_from_now(app: web.Application) -> None:
    """The last step of `gateway web`'s start: from now on its loop's ticks are its heartbeats to `gateway run`
    (assembly.machine.heartbeat); a loop held longer than the supervisor allows is then a frozen process, replaced."""
    app[LOOP_WATCH].beat_from_now(settings_of(app, Settings).gateway_frozen_after_seconds)


def create_app(settings: Settings, providers: Sequence[ProviderParts[Any]] = provider_list.PROVIDERS, *,
               lent: LentEngines | None = None) -> web.Application:
    """The service's app, with the payment providers of `providers` (the provider list's by default), on database
    engines of its own or `lent` ones."""
    if not settings.database_url or not settings.redis_url:
        raise ValueError("create_app needs DATABASE_URL and REDIS_URL (gateway run/web start embedded ones)")
    check_production(settings, providers_in_use=set(), providers=providers)
    metrics = Metrics()
    app = web.Application(middlewares=[cpu_by_part(metrics.cpu), request_context, json_errors, body_deadline],
                          client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    if lent is not None:
        app[LENT_ENGINES] = lent
    app[PROVIDER_LIST] = tuple(providers)
    app[METRICS] = metrics
    app[SERVICE_LEVELS] = ServiceLevels(app[METRICS].registry)
    app[LEVELS_SOURCE] = levels_source(app[SERVICE_LEVELS])  # the control room's: the host's sums where shared
    app[RESULTS_KEY] = signing_key(settings)  # signed results; production has checked it above
    app[WATCHED_PASSES] = SILENT_AFTER  # their ages: /metrics, the control room
    # What the admin area and the vote service reach of the channels without importing one.
    app[CHANNEL_NAMES] = tuple(parts.name for parts in CHANNELS)
    app[CONTEST_SETTINGS], app[FAILED_MESSAGES] = channel_list.CONTEST_SETTINGS, channel_list.FAILED_MESSAGES
    # Every channel's line of how to vote, then the providers' paid directly (a paybill and the candidate's code).
    app[HOW_TO_VOTE] = (*(hook for parts in CHANNELS if (hook := parts.bound_how_to_vote(settings)) is not None),
                        *(hook for given in providers if (hook := given.bound_how_to_vote(settings)) is not None))
    app[PHONE_WALLETS] = phone_wallets(providers)  # what the phone channels and the admin area read of the wallets
    # Order matters: later contexts use what earlier ones created, and close first.
    app.cleanup_ctx.extend([loop_watch_ctx, cpu_ctx, database_ctx, production_checks_ctx, redis_ctx, http_ctx,
                            media_ctx, providers_ctx, relay_ctx])
    if settings.media_storage == "cloudinary":
        cloudinary_routes.setup(app)  # its notifications of uploads and of the renditions it made
    health.setup(app)
    leaderboard_routes.setup(app)
    for provider in providers:  # each provider's own callback routes
        if provider.routes is not None:
            provider.routes(app)
    app.cleanup_ctx.append(vote_service_ctx)  # after the leaderboard's context: it uses the board reader
    app.cleanup_ctx.append(verification_ctx)  # callback verification
    for parts in CHANNELS:  # after the vote service: a channel's own contexts may use it
        parts.setup(app)
    admin.setup(app)  # the organisers' area, all its parts
    return app


# Callback verification: the web's share of re-checking callback-counted orders.
async def verification_ctx(app: web.Application) -> AsyncIterator[None]:
    """Orders counted on a callback's word, checked with their provider on the status turns pending orders' checks
    leave (verification can wait, a voter cannot: gateway.kit.status_pacing), on a small pool of their own: background
    work never takes a connection a request is waiting for. Room for what the loop runs at once (its verifications,
    its claim and its ranking): a connection past the pool's size is closed when given back, and each new one cost
    PostgreSQL a backend and asyncpg a look-up of our types, several a second while the queue drained (2 kept and 2
    more, before)."""
    lent = app.get(LENT_ENGINES)
    engine = lent.verification if lent is not None else create_engine(
        app[SETTINGS].database_url or "", pool_size=VERIFICATION_CONNECTIONS - 2, max_overflow=2,
        statement_timeout_seconds=STATEMENT_TIMEOUT_SECONDS)
    pace = spare_pace(app[REDIS], waited=app[SERVICE_LEVELS].note_status_turn)
    loop = VerificationLoop(session_factory(engine), app[PROVIDERS], pace, app[RELAY].kick)
    loop.start()
    yield
    await loop.stop()
    if lent is None:
        await engine.dispose()
