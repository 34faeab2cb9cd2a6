"""Whether the money of a payment reached us, in the provider's own words: asked before any of it is given back.

A refund of money that never came in would pay a stranger out of the organiser's takings (a forged or mistaken
callback we counted, then verified as failed; a success the provider later denied). So before an order is owed
back, its money must be the provider's word: counted on a status call or a signed event (no verification was
queued for it), or verified since (its status call agreed). Anything else (a callback not verified yet, a flagged
order, whose money is in doubt by definition) is asked about now, with one status call.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from gateway.core.errors import Conflict, NotFound, ProviderFailed
from gateway.core.money import money_text
from gateway.core.money_in.checking import StatusPace, word_on
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.verification.by_status import VERIFIABLE, Verified
from gateway.core.providers import PaymentError, PaymentState, Providers, StatusResult
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import PaymentVerification


def shortfall(provider: str, amount: int, currency: str, status: StatusResult | None) -> str | None:
    """Why the provider's word does not show this payment's money with us (None: it does), in a person's words."""
    if status is None:
        return f"{provider} has no such payment: no money came in, so none can go back. Dismiss it instead."
    if status.state is PaymentState.PENDING:
        return f"{provider} still says the payment is pending: nothing came in yet to give back. Try again later."
    if status.state is not PaymentState.SUCCESSFUL:
        said = status.raw_status or status.state.value
        return (f"{provider} says the payment is {said}: no money came in, so none can go back. Dismiss it "
                "instead.")
    if status.amount != amount or (status.currency or "").upper() != currency.upper():
        return (f"{provider} took {money_text(status.amount, status.currency)}, the order is "
                f"{money_text(amount, currency)}: give back what it took from {provider}'s own portal, then dismiss "
                "the order.")
    return None


async def confirm_money_in(sessions: Sessions, registry: Providers, order_id: uuid.UUID, *,
                           pace: StatusPace | None = None) -> None:
    """Return when the order's money is the provider's word; Conflict (`no_money_in`) when the provider denies it,
    ProviderFailed when it could not be asked (nothing changed: try again)."""
    async with autocommit(sessions) as session:
        loaded = await load_collection(session, order_id)
        verification = (await session.execute(
            select(PaymentVerification.verified_at, PaymentVerification.outcome)
            .where(PaymentVerification.order_id == order_id))).one_or_none()
    if loaded is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    order, collection = loaded
    if order.status in VERIFIABLE and (verification is None or verification.outcome == Verified.AGREED.value):
        return
    if order.provider in registry.payment_lists():  # no status call (Stars): its own refund refuses what it never took
        return
    try:
        status = await word_on(registry.for_order(order.provider, order.channel), collection, pace)
    except PaymentError as exc:
        raise ProviderFailed(f"{order.provider} could not say whether this payment's money came in ({exc.message}). "
                             "Nothing changed; try again.", code="provider_failed") from exc
    problem = shortfall(order.provider, order.amount, order.currency, status)
    if problem is not None:  # pending: nothing came in yet, though it may (asked again later)
        pending = status is not None and status.state is PaymentState.PENDING
        raise Conflict(problem, code="money_pending" if pending else "no_money_in")
