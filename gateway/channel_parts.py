"""What a channel hands the assembly: its routes, its background jobs, its receipts, its local stand-ins,
its commands, its production checks and its own migrations.

A channel (`channels/<name>/channel.py`) builds one `ChannelParts`; `gateway/channel_list.py` names every
channel, and the assembly (app, worker, supervisor, CLI) reads them from there. So a new channel lives in
its folder, plus one line in that list (and its settings model among `Settings`' bases when it has one).
This module imports no channel: channels import it.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx
from aiohttp import web
from redis.asyncio import Redis
from rq import Queue
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.core.providers import Providers
from gateway.core.receipts import ReceiptSender
from gateway.db.engine import Sessions

if TYPE_CHECKING:
    from gateway.core.service import PaymentStarter, VoteService

# The one RQ function every channel's job runs through (gateway.worker_jobs.channel_job): a channel names its
# jobs by (channel, job) and never imports the worker.
CHANNEL_JOB = "gateway.worker_jobs.channel_job"


class JobResources(Protocol):
    """What a channel's background job may use (gateway.worker_jobs.JobContext provides it)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def redis(self) -> Redis: ...

    @property
    def providers(self) -> Providers: ...

    def vote_service(self, starts: PaymentStarter) -> VoteService:
        """The core's vote API, starting payments through `starts` (a job starts them after its reply)."""
        ...

    async def start_payment(self, order_id: uuid.UUID) -> object:
        """Ask the order's provider for the payment (the prompt on the voter's phone)."""
        ...

    async def relay_now(self) -> None:
        """Deliver what committed transactions left in the outbox (board moves, receipts) now."""
        ...


ChannelJob = Callable[..., Awaitable[Any]]  # (JobResources, *job arguments) -> its result
ReceiptsFactory = Callable[[Settings, Sessions, httpx.AsyncClient], ReceiptSender | None]
ProductionCheck = Callable[[Settings, AsyncSession], Awaitable[list[str]]]
Commands = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


@dataclass(frozen=True)
class StandIn:
    """A local fake of an outside service the channel talks to, started by `gateway run` in development."""

    name: str
    module: str  # run as `python -m <module> --host H --port P <args>`
    needed: Callable[[Settings], bool]
    address: Callable[[Settings], tuple[str, int]]
    announce: Callable[[Settings], str]  # its line in the URLs block
    args: Callable[[Settings], list[str]] = lambda settings: []
    # Environment given to every process `gateway run` starts once it runs (e.g. where to send SMS).
    environment: Callable[[Settings], dict[str, str]] = lambda settings: {}


def listen_address(url: str, default_port: int) -> tuple[str, int]:
    """Where a stand-in listens, from the URL the service reaches it at (`StandIn.address`)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


@dataclass(frozen=True)
class ChannelParts:
    name: str
    setup: Callable[[web.Application], None]  # routes and the channel's own cleanup contexts
    jobs: Mapping[str, ChannelJob] = field(default_factory=dict)
    periodic_jobs: tuple[tuple[str, int], ...] = ()  # (job, seconds between runs)
    receipts: ReceiptsFactory | None = None  # messages a voter once their order is decided
    stand_ins: tuple[StandIn, ...] = ()
    commands: Commands | None = None  # adds `gateway <command>`s; each sets func(settings, args) -> exit code
    production_problems: ProductionCheck | None = None  # what stops production (e.g. a contest uses it unsecured)
    migrations: Path | None = None  # its own Alembic branch for its own tables (see README's "Adding a channel")


def enqueue_channel_job(queue: Queue, channel: str, job: str, *args: object, job_id: str | None = None) -> None:
    """Queue one of a channel's jobs (blocking: call it in a thread from a coroutine)."""
    queue.enqueue(CHANNEL_JOB, channel, job, *args, job_id=job_id)
