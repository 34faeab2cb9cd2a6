"""What a channel's or a provider's worker pass may use (assembly.worker.job_runtime.JobContext provides it): its parts
declare their passes (`passes`, gateway.core.worker_passes) and never import the worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from redis.asyncio import Redis

from gateway.core.providers import Providers
from gateway.db.engine import Sessions
from gateway.kit.phone_wallets import PhoneWallets
from gateway.kit.settings import ServiceSettings

if TYPE_CHECKING:
    from gateway.core.money_in.start_protocol import PaymentStarter
    from gateway.core.money_in.starting import ClaimedStart
    from gateway.core.service import VoteService

S_co = TypeVar("S_co", bound=ServiceSettings, covariant=True)
T = TypeVar("T")


class JobResources(Protocol[S_co]):
    """What a job may use, its settings typed as its own part's model."""

    @property
    def settings(self) -> S_co: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def redis(self) -> Redis: ...

    @property
    def providers(self) -> Providers: ...

    @property
    def phone_wallets(self) -> PhoneWallets:
        """The providers' wallets as phone voters know them (`gateway.kit.phone_wallets`)."""
        ...

    def vote_service(self, starts: PaymentStarter) -> VoteService:
        """The core's vote API, starting payments through `starts` (a job starts them after its reply)."""
        ...

    async def start_payment(self, order_id: uuid.UUID, claimed: ClaimedStart | None = None) -> object:
        """Ask the order's provider for the payment (the prompt on the voter's phone), on the lease its insert took
        (`claimed`) or one claimed now."""
        ...

    async def relay_now(self) -> None:
        """Deliver what committed transactions left in the outbox (board moves, receipts) now."""
        ...

    def kept_for_jobs(self, name: str, make: Callable[[], T]) -> T:
        """The object `name` that this process's jobs share (a client, with its open connections), made by `make`
        for the first; closed (its `close`) with the jobs' context."""
        ...
