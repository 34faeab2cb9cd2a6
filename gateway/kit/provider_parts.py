"""What a payment provider hands the assembly: its name, what it can do, how it is built from its settings, its
callback routes, its worker passes, its production checks, the addresses its calls go to and its local stand-ins.

A provider (`payments/<name>/provider.py`) builds one `ProviderParts`, as a channel builds its `ChannelParts`;
`assembly/provider_list.py` names every provider, and the assembly (app, worker, supervisor, registry) reads them
from there. So a new provider lives in its folder, plus one line in that list (and its settings model among
`Settings`' bases in assembly/settings.py when it has one: `ProviderParts[ItsSettings]` hands its parts those
settings typed). The core, the channels and the admin area read its `capabilities` (and the phone channels its
`phone_wallet`), never its name.
This module imports no provider: providers import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from aiohttp import web
from redis.asyncio import Redis

from gateway.core.channel_settings import ChannelContestSettings
from gateway.core.money import Chargeable
from gateway.core.providers import Capability, PaymentProvider, PayoutsSent, RefundsSent
from gateway.core.worker_passes import WorkerPass
from gateway.kit.channel_parts import BoundHowToVote, HowToVote, check_pass_names
from gateway.kit.phone_wallets import PhoneWallet, PhoneWallets
from gateway.kit.settings import ServiceSettings
from gateway.kit.stand_ins import StandIn

# A provider's own settings model (a ServiceSettings); the assembly passes its Settings, a subclass of each.
S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class ChatBot:
    """The bot a provider paid in the chat sends its invoices through (the assembly takes it from the chat channel's
    settings: providers and channels never import each other)."""

    token: str
    api_base: str | None  # None: the chat's own API


@dataclass(frozen=True)
class ProviderResources:
    """What building a provider may use beside its settings."""

    http: httpx.AsyncClient  # the one client every provider sends through (its calls are counted by address)
    chat_bot: ChatBot | None = None
    # Where a provider's cap on our calls is kept across processes and hosts (`gateway.kit.paced_turns`); None: each
    # process keeps it alone (a one-off command, a test).
    redis: Redis | None = None


@dataclass(frozen=True)
class Implementations:
    """What a provider built from the settings; None where that part is not set up here.

    `pushed` serves the orders of the channels whose voters pay by a prompt pushed to their phone
    (`ChannelParts.pushes_payment_prompt`), `other` every other channel's: one implementation for both (`one`),
    or two where the provider has two ways to pay (Orange: its USSD push and its payment page)."""

    other: PaymentProvider | None = None
    pushed: PaymentProvider | None = None
    refunds: RefundsSent | None = None  # its refunds' own API (`Capability.REFUNDS_SENT`)
    payouts: PayoutsSent | None = None  # its payouts' own API (`Capability.PAYOUTS`)

    @classmethod
    def one(cls, implementation: PaymentProvider | None, *, refunds: RefundsSent | None = None,
            payouts: PayoutsSent | None = None) -> Implementations:
        """The same implementation for every channel's orders."""
        return cls(implementation, implementation, refunds, payouts)


Build = Callable[[S, ProviderResources], Implementations]
# (its settings, whether a contest not closed uses it) -> what stops production (credentials unset, a sandbox...).
ProductionCheck = Callable[[S, bool], list[str]]


@dataclass(frozen=True)
class ProviderParts(Generic[S]):
    """A provider's parts, typed by its own settings model (`ProviderParts[MtnSettings]`)."""

    name: str  # what an order and a contest keep (`VoteOrder.provider`, `Contest.providers`)
    label: str  # its name as payers know it, where a channel's catalog has none of its own
    capabilities: frozenset[Capability]
    build: Build[S]
    # The amounts it can charge, by currency (a minimum, a maximum and a step in minor units): a contest's price it
    # cannot charge is refused at the contest's save, naming it and the nearest prices it can.
    charges: Chargeable = Chargeable()
    routes: Callable[[web.Application], None] | None = None  # its callback routes
    # Its worker passes, as a wing declares its own (gateway.core.worker_passes), each name "<its name>-<pass>";
    # a pass's `run` is given a `JobResources` (gateway.kit.job_resources).
    passes: tuple[WorkerPass, ...] = ()
    # The settings it needs that are unset (production refuses to start while a contest uses it so).
    missing_settings: Callable[[S], list[str]] = lambda settings: []
    production_problems: ProductionCheck[S] | None = None
    # Where its calls go (address prefixes; the chat's bot for one paid in the chat): the shared client counts each
    # call's answer under its name.
    addresses: Callable[[S, ChatBot | None], Sequence[str]] = lambda settings, chat_bot: ()
    stand_ins: tuple[StandIn[S], ...] = ()
    # Its own settings of a contest (admin form and API), as a channel's (`ChannelContestSettings`), kept in its
    # own tables: an Alembic branch of its own (`branch_labels = ("<name>",)`), migrated with the core's.
    contest_settings: ChannelContestSettings | None = None
    migrations: Path | None = None
    # How a voter votes for a candidate by paying it directly (a paybill and the candidate's code as the account):
    # shown beside the channels' lines (`channels.web.candidate_pages.HOW_TO_VOTE`).
    how_to_vote: HowToVote[S] | None = None
    # Its wallet as phone voters know it (the words they text to name it, the numbers whose wallet it is), read by
    # the phone channels from `gateway.kit.phone_wallets.PhoneWallets`; None: no phone voter names it.
    phone_wallet: PhoneWallet | None = None

    def bound_how_to_vote(self, settings: S) -> BoundHowToVote | None:
        """Its `how_to_vote` with the app's settings given (the assembly binds them once)."""
        hook = self.how_to_vote
        if hook is None:
            return None
        return lambda session, contest, code, lang, providers: hook(settings, session, contest, code, lang, providers)

    def __post_init__(self) -> None:
        check_pass_names("provider", self.name, self.passes)


def phone_wallets(parts: Iterable[ProviderParts[Any]]) -> PhoneWallets:
    """The providers' wallets as the phone channels read them, in the providers' order (the assembly hands it down:
    the app's `PHONE_WALLETS`, a job's `phone_wallets`)."""
    return PhoneWallets({provider.name: provider.phone_wallet for provider in parts
                         if provider.phone_wallet is not None})
