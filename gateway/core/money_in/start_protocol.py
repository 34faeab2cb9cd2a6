"""Money in's one door for a new order: the start protocol, from the terms its order is placed on to its payment
started, as the service calls it (`VoteService.place_vote`, `pay_entry_fee`, `prompt_again`).

The service asks for the order's `StartTerms` (how long it waits for its payment, and whether its insert leases its
start), places the order on them, and hands the placed order to `StartProtocol.begin`, once. The protocol keeps the
guarantees of `starting.start_payment`: one start at a time under a lease (taken by the order's insert when the start
is about to run here, else by the start's own claim), no database connection held during the provider's call, every
call cut off before its lease runs out, and a crash anywhere leaves the order to the reconciler. A payment page is
started at once, in the voter's request (`starting.start_for_page`); a phone prompt never holds up the voter's
answer: it is owed to the `PaymentStarter` (the web process's `start_queue.PaymentStarts`, or a job's own), which
pushes it after the reply, retrying a provider that is down.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from gateway.core.money_in import prompting_again
from gateway.core.money_in.prompting_again import PromptAgain
from gateway.core.money_in.starting import (
    START_LEASE,
    ClaimedStart,
    StartOutcome,
    claimed_at_placement,
    needs_redirect,
    provider_for,
    start_for_page,
    time_to_pay,
)
from gateway.core.orders.placing import PlacedOrder
from gateway.core.providers import Providers
from gateway.db.engine import Sessions


class PaymentStarter(Protocol):
    """Pushes phone prompts after the reply (the web process's `gateway.core.money_in.start_queue.PaymentStarts`; a
    job's collects them and pushes each once it has answered)."""

    def request(self, order_id: uuid.UUID, *, after: float = 0.0, claimed: ClaimedStart | None = None) -> None: ...

    @property
    def claims_at_placement(self) -> bool:
        """Whether it starts an order with the lease its insert took (`claimed`); if not, none is taken for it."""
        ...

    async def wait_for_room(self) -> None: ...


@dataclass(frozen=True)
class StartTerms:
    """What an order's insert must know of its start: how long the order waits for its payment (`pending_ttl`), the
    lease its insert takes for a start about to run here (None: the start claims its own), and when the start's
    deadline counts from (the loop's time before the insert); `push_after`: seconds after the reply its prompt goes."""

    pending_ttl: timedelta
    start_lease: timedelta | None
    placed_at: float
    push_after: float = 0.0


class StartProtocol:
    """The start protocol of one process: `terms` before an order is placed, `begin` once it is."""

    def __init__(self, sessions: Sessions, providers: Providers, starts: PaymentStarter, *,
                 pending_ttl: timedelta) -> None:
        self.sessions = sessions
        self.providers = providers
        self.starts = starts
        self.pending_ttl = pending_ttl

    async def terms(self, provider: str, channel: str, *, push_after: float = 0.0, cancellable: bool = False,
                    wait_for_room: bool = False) -> StartTerms:
        """The terms of a new order's start; VoteRejected when `provider` takes no payment on `channel`.
        `wait_for_room` holds the vote back briefly while many prompts are owed (the web; a USSD hop must answer at
        once). `cancellable`: the channel may cancel the order until its prompt is tried."""
        if wait_for_room:
            await self.starts.wait_for_room()
        paid_by = provider_for(self.providers, provider, channel)
        # A start about to run here is leased by the order's insert (no claim of its own); a delayed one is not (its
        # lease would age), nor one the channel may cancel: the lease marks the prompt as tried.
        starts_now = paid_by.redirects or (push_after <= 0 and not cancellable and self.starts.claims_at_placement)
        return StartTerms(time_to_pay(self.pending_ttl, paid_by.payment_window), START_LEASE if starts_now else None,
                          asyncio.get_running_loop().time(), push_after)

    async def begin(self, placed: PlacedOrder, terms: StartTerms) -> StartOutcome | None:
        """Start the placed order's payment: a payment page's now (its outcome, with the page's address), a phone
        prompt's after the reply (None). A replay's order (placed before) starts as any other would: the lease
        keeps two starts from overlapping, and a start recorded already is only read back."""
        order, claimed = placed.order, claimed_at_placement(placed, terms.placed_at)
        if not needs_redirect(self.providers, order.provider, order.channel):
            self.starts.request(order.id, after=terms.push_after, claimed=claimed)
            return None
        return await start_for_page(self.sessions, self.providers, order.id, claimed)

    async def prompt_again(self, order_id: uuid.UUID) -> PromptAgain:
        """The voter got no prompt: a new one is owed once the provider says the last is over unpaid
        (`prompting_again`), and pushed as a new order's is."""
        outcome = await prompting_again.prompt_again(self.sessions, self.providers, order_id)
        if outcome is PromptAgain.SENT:
            self.starts.request(order_id)
        return outcome
