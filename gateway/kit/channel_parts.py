"""What a channel hands the assembly: its routes, its worker passes, its receipts, how its voters pay,
its local stand-ins, its commands, its production checks, its own migrations, its per-contest settings, its failed
messages and how a voter votes through it for one candidate.

A channel (`channels/<name>/channel.py`) builds one `ChannelParts`; `assembly/channel_list.py` names every
channel, and the assembly (app, worker, supervisor, CLI) reads them from there. So a new channel lives in
its folder, plus one line in that list (and its settings model among `Settings`' bases in assembly/settings.py
when it has one: `ChannelParts[ItsSettings]` hands its parts those settings typed).
This module imports no channel: channels import it.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import httpx
from aiohttp import web
from rq import Queue
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.channel_reports import FailedMessages
from gateway.core.channel_settings import ChannelContestSettings
from gateway.core.contests.catalog import PublicContest
from gateway.core.orders.receipts import ReceiptSender
from gateway.core.phone_texts import PhoneTexter
from gateway.core.providers import Providers
from gateway.core.worker_passes import WorkerPass, enqueue_pass
from gateway.db.engine import Sessions
from gateway.kit.settings import ServiceSettings
from gateway.kit.stand_ins import StandIn

# A channel's own settings model (a ServiceSettings); the assembly passes its Settings, a subclass of each.
S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class VoteHint:
    """How to vote for one candidate through one channel, in the reader's language, from the channel's own
    catalog: what a candidate's page (and its share card) says, written by the channel that knows its syntax.

    `text` is the whole line ("Text VOTE 07 to 20123"); `link`, where the channel has one, opens it (a `tel:`
    dial, an `sms:` message, a bot's deep link); `short` is the line without the verb's sentence, for a share
    card's description ("*384*123*1*07#"), or None to leave the channel out of it."""

    channel: str
    text: str
    link: str | None = None
    short: str | None = None


# (its settings, a session, the contest with its channels' settings (`channel_fields`), the candidate's code, the
# reader's language, the payment providers and what each can do) -> its line, or None when the contest does not take
# votes through it (e.g. none of its providers is one the channel's voters can pay by).
HowToVote = Callable[[S, AsyncSession, PublicContest, str, str, Providers], Awaitable[VoteHint | None]]
# The same bound to the app's settings by the assembly (`channels.web.candidate_pages.HOW_TO_VOTE`), as the
# web calls it.
BoundHowToVote = Callable[[AsyncSession, PublicContest, str, str, Providers], Awaitable[VoteHint | None]]
ReceiptsFactory = Callable[[S, Sessions, httpx.AsyncClient], ReceiptSender | None]
TexterFactory = Callable[[S, Sessions, httpx.AsyncClient], PhoneTexter]
ProductionCheck = Callable[[S, AsyncSession], Awaitable[list[str]]]
Commands = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


@dataclass(frozen=True)
class ChannelParts(Generic[S]):
    """A channel's parts, typed by its own settings model (`ChannelParts[UssdSettings]`)."""

    name: str
    setup: Callable[[web.Application], None]  # routes and the channel's own cleanup contexts
    # Its worker passes, as a wing declares its own (gateway.core.worker_passes), each name "<its name>-<pass>";
    # a pass's `run` is given a `JobResources` (gateway.kit.job_resources), then the job's arguments.
    passes: tuple[WorkerPass, ...] = ()
    receipts: ReceiptsFactory[S] | None = None  # messages a voter once their order is decided
    texts_phones: TexterFactory[S] | None = None  # texts any number (one-time codes, entries' decisions)
    # Its voters pay by a prompt pushed to their phone (they have no browser for a payment page): a provider
    # with both ways (Orange) pushes for this channel's orders (payments.registry).
    pushes_payment_prompt: bool = False
    stand_ins: tuple[StandIn[S], ...] = ()
    commands: Commands | None = None  # adds `gateway <command>`s; each sets func(settings, args) -> exit code
    production_problems: ProductionCheck[S] | None = None  # what stops production (e.g. a contest uses it unsecured)
    migrations: Path | None = None  # its own Alembic branch for its own tables (docs/design.md, "Adding one")
    contest_settings: ChannelContestSettings | None = None  # its own settings of a contest (admin form and API)
    failed_messages: FailedMessages | None = None  # its messages that failed (dashboard figure, `gateway review`)
    # How a voter votes for a candidate through it (a candidate's page, its share card): channels never import
    # each other, so the web shows each channel's own line through this.
    how_to_vote: HowToVote[S] | None = None

    def bound_how_to_vote(self, settings: S) -> BoundHowToVote | None:
        """Its `how_to_vote` with the app's settings given (the assembly binds them once)."""
        hook = self.how_to_vote
        if hook is None:
            return None

        async def bound(session: AsyncSession, contest: PublicContest, code: str, lang: str,
                        providers: Providers) -> VoteHint | None:
            return await hook(settings, session, contest, code, lang, providers)

        return bound


    def __post_init__(self) -> None:
        check_pass_names("channel", self.name, self.passes)


def check_pass_names(kind: str, plug: str, passes: tuple[WorkerPass, ...]) -> None:
    """A plug's pass names start with its own name: no two plugs' passes share one."""
    for each in passes:
        if not each.name.startswith(f"{plug}-"):
            raise ValueError(f"{kind} {plug!r} names its pass {each.name!r}, not {plug}-...")


def enqueue_channel_job(queue: Queue, channel: str, job: str, *args: object, job_id: str | None = None) -> None:
    """Queue the channel's pass "<channel>-<job>" (blocking: call it in a thread from a coroutine)."""
    enqueue_pass(queue, f"{channel}-{job}", *args, job_id=job_id)
