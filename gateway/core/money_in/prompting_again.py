"""A payer's "I got no prompt: send it again", within the one-prompt rule: one prompt of an order open at a time, and
never a second charge for the same order.

A new prompt goes out only on the provider's own word that the order's last one is over unpaid for sure (cancelled,
timed out, a wrong PIN, no money: its status, asked now, `StatusResult.final`), never on a wait alone nor on a failure
the provider does not know as final (a code it never documented, or none): a prompt still open could yet be paid, and
a second one beside it could be paid too. It is then a new start of the same order (`starting_again`, as for a prompt
another held the phone through): the same order, amount and payment reference, the dead prompt's data moved under
`EARLIER_STARTS` (a late word of it never counts on its own), at most `STARTS_AGAIN` new starts in all. A prompt the
provider says was paid is counted now, as any status check would. Only a provider that declares
`Capability.PROMPT_AGAIN` is asked (its refusal of a second open prompt on a number is a second guard), and only once
its prompt has had `ASK_AFTER` to reach the phone; the channel bounds how often one order may ask.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gateway.core.errors import NotFound
from gateway.core.money_in.checking import settle
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.starting import needs_redirect
from gateway.core.money_in.starting_again import STARTS_AGAIN, earlier_starts, start_again
from gateway.core.orders.outcomes import Outcome
from gateway.core.providers import Capability, PaymentState, Providers, StatusResult
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import OrderStatus

# A prompt younger than this is on its way or open on the phone: the provider is not asked yet.
ASK_AFTER = timedelta(seconds=20)
SENT_AGAIN = "PROMPT_SENT_AGAIN"  # the order's reason meanwhile (gateway.core.money_in.reasons)


class PromptAgain(StrEnum):
    SENT = "sent"  # the last prompt is over unpaid: a new one is on its way
    STILL_OPEN = "still_open"  # the provider says it is still open on the phone (or it is too young to ask)
    ON_ITS_WAY = "on_its_way"  # no prompt is recorded yet: the one owed goes out anyway
    UNSURE = "unsure"  # the provider's word is not that the prompt is over for sure: nothing sent, the order waits
    PAID = "paid"  # the provider says it was paid: counted now
    DECIDED = "decided"  # the order waits no more
    NOT_OFFERED = "not_offered"  # its provider cannot push one again, or it has had every new prompt it may


def offers_prompt_again(providers: Providers, provider: str, channel: str) -> bool:
    """Whether an order of `provider` placed on `channel` is paid by a prompt its provider may push again."""
    return (Capability.PROMPT_AGAIN in providers.capabilities(provider)
            and not needs_redirect(providers, provider, channel))


async def prompt_again(sessions: Sessions, providers: Providers, order_id: uuid.UUID) -> PromptAgain:
    """Ask the provider about the order's last prompt and put the order back to be started again when that prompt
    is over unpaid (the caller then asks for the start: `VoteService.prompt_again`). Raises PaymentError when the
    provider cannot be asked, NotFound for an unknown order."""
    async with autocommit(sessions) as session:
        loaded = await load_collection(session, order_id)
    if loaded is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    order, collection = loaded
    if order.status is not OrderStatus.PENDING:
        return PromptAgain.DECIDED
    if not offers_prompt_again(providers, order.provider, order.channel) \
            or earlier_starts(order.provider_data) >= STARTS_AGAIN:
        return PromptAgain.NOT_OFFERED
    started = order.payment_started_at
    if started is None:
        return PromptAgain.ON_ITS_WAY
    if datetime.now(UTC) - started < ASK_AFTER:
        return PromptAgain.STILL_OPEN
    status = await providers.for_order(order.provider, order.channel).fetch_status(collection)
    if over_unpaid(status) or status.start_again:
        outcome = await start_again(sessions, order, collection, replace(status, reason=SENT_AGAIN))
        return {Outcome.START_AGAIN: PromptAgain.SENT, Outcome.PENDING: PromptAgain.ON_ITS_WAY}.get(
            outcome, PromptAgain.DECIDED)
    if status.state is PaymentState.PENDING:
        return PromptAgain.STILL_OPEN
    if status.state in (PaymentState.FAILED, PaymentState.EXPIRED):
        return PromptAgain.UNSURE  # left to the status checks, which decide the order as for any other
    outcome = await settle(sessions, order.id, status, order.provider)
    return PromptAgain.PAID if outcome in (Outcome.COUNTED, Outcome.HELD) else PromptAgain.DECIDED


def over_unpaid(status: StatusResult) -> bool:
    """The provider says for sure the prompt is over and was not paid: a new one cannot be paid beside it."""
    return status.final and status.state in (PaymentState.FAILED, PaymentState.EXPIRED)
