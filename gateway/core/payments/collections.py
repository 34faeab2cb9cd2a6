"""An order as its provider sees it (a `Collection`), loaded with what an interrupted start kept."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import ScalarSelect, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.providers import Collection
from gateway.db.models import Candidate, Contest, ProviderEvent, VoteOrder

KEPT_DURING_START = "start.kept"  # provider event kind: data a provider kept in the middle of a start


def kept_during_start() -> ScalarSelect[Any]:
    """The bodies a start kept for the order (usually none), oldest first, in the order's own query."""
    return (select(func.coalesce(func.jsonb_agg(aggregate_order_by(ProviderEvent.body, ProviderEvent.id)),
                                 literal_column("'[]'::jsonb"), type_=JSONB))
            .where(ProviderEvent.order_id == VoteOrder.id, ProviderEvent.kind == KEPT_DURING_START)
            .scalar_subquery())


LOAD_COLLECTION = (select(VoteOrder, Contest.name, Candidate.name, kept_during_start())
                   .join(Contest, Contest.id == VoteOrder.contest_id)
                   .join(Candidate, Candidate.id == VoteOrder.candidate_id)
                   .where(VoteOrder.id == bindparam("order_key")))


def collection_of(order: VoteOrder, contest_name: str, candidate_name: str, kept: list[str]) -> tuple[
        VoteOrder, Collection]:
    data = dict(order.provider_data)
    if order.payment_started_at is None:  # a start may have been cut short after keeping data
        data.update({key: value for body in kept for key, value in json.loads(body).items()})
    if order.provider_txn_id:
        data.setdefault("payment_intent", order.provider_txn_id)
    return order, Collection(
        order_id=order.id, reference=order.payment_reference, amount=order.amount, currency=order.currency,
        msisdn=order.voter_msisdn, description=describe(order.quantity, candidate_name, contest_name),
        channel=order.channel, provider_data=data, voter_ref=order.voter_ref,
        provider_txn_id=order.provider_txn_id,
    )

def describe(quantity: int, candidate: str, contest: str) -> str:
    return f"{quantity} vote{'s' if quantity > 1 else ''} for {candidate} - {contest}"


async def load_collection(session: AsyncSession, order_id: uuid.UUID) -> tuple[VoteOrder, Collection] | None:
    """The order and its collection, with what a start cut short kept at the provider's request."""
    row = (await session.execute(LOAD_COLLECTION, {"order_key": order_id})).one_or_none()
    return None if row is None else collection_of(*row)
