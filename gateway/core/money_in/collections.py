"""An order as its provider sees it (a `Collection`), loaded with what an interrupted start kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ScalarSelect, Select, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core.orders.tables import order_of
from gateway.core.providers import Collection
from gateway.db.driver_statements import DriverStatement
from gateway.db.models import Candidate, Contest, ProviderEvent, VoteOrder

KEPT_DURING_START = "start.kept"  # provider event kind: data a provider kept in the middle of a start


def kept_during_start() -> ScalarSelect[Any]:
    """The bodies a start kept for the order (usually none), oldest first, in the order's own query."""
    return (select(func.coalesce(func.jsonb_agg(aggregate_order_by(ProviderEvent.body, ProviderEvent.id)),
                                 literal_column("'[]'::jsonb"), type_=JSONB))
            .where(ProviderEvent.order_id == VoteOrder.id, ProviderEvent.kind == KEPT_DURING_START)
            .scalar_subquery())


def events_so_far(limit: int) -> ScalarSelect[int]:
    """How many events the order has had, counting no further than `limit` (a flood is not counted whole)."""
    first = (select(ProviderEvent.id).where(ProviderEvent.order_id == VoteOrder.id).correlate(VoteOrder)
             .limit(limit).subquery())
    return select(func.count()).select_from(first).scalar_subquery()


# Callbacks kept whole per order: no provider sends nearly as many (MTN and Orange one or two,
# Stripe a few events). Past them, the one who placed the order is flooding its own order's URL.
WHOLE_EVENTS_PER_ORDER = 10

_ORDERS = VoteOrder.__table__
# Core, not the ORM: a callback's first statement, and an ORM load costs more than the query's own work.
LOAD_COLLECTION: Select[Any] = (
    select(*_ORDERS.c, Contest.name.label("contest_name"), Candidate.name.label("candidate_name"),
           kept_during_start().label("kept"), events_so_far(WHOLE_EVENTS_PER_ORDER).label("events_so_far"))
    .join(Contest, Contest.id == _ORDERS.c.contest_id)
    .outerjoin(Candidate, Candidate.id == _ORDERS.c.candidate_id)  # none for an entry's fee
    .where(_ORDERS.c.id == bindparam("order_key")))


def collection_of(order: VoteOrder, contest_name: str, candidate_name: str | None, kept: list[str]) -> tuple[
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

def describe(quantity: int, candidate: str | None, contest: str) -> str:
    """The payment's line at the provider (the payer's prompt, the card statement's page)."""
    if candidate is None:
        return f"Entry fee - {contest}"
    return f"{quantity} vote{'s' if quantity > 1 else ''} for {candidate} - {contest}"


async def load_collection(db: AsyncSession | AsyncConnection, order_id: uuid.UUID,
                          ) -> tuple[VoteOrder, Collection] | None:
    """The order (detached: read it, do not change it) and its collection, with what a start cut short kept
    at the provider's request."""
    row = await load_collection_row(db, order_id)
    return None if row is None else collection_of_row(row)


async def load_collection_row(db: AsyncSession | AsyncConnection, order_id: uuid.UUID) -> Row[Any] | None:
    """`LOAD_COLLECTION`'s row: the order's columns, its names, what a start kept and `events_so_far`."""
    row: Row[Any] | None = (await db.execute(LOAD_COLLECTION, {"order_key": order_id})).one_or_none()
    return row


def collection_of_row(row: Row[Any]) -> tuple[VoteOrder, Collection]:
    return collection_of_columns(row._mapping)


def collection_of_columns(columns: Mapping[Any, Any]) -> tuple[VoteOrder, Collection]:
    """`LOAD_COLLECTION`'s answer by column name (a Core row's mapping, or `load_collection_columns`')."""
    return collection_of(order_of(columns), columns["contest_name"], columns["candidate_name"], columns["kept"])


# A callback's first statement, run by asyncpg itself (gateway.db.driver_statements): SQLAlchemy's part of running it
# was more than the statement's own.
LOADING = DriverStatement(LOAD_COLLECTION, ("order_key",))


async def load_collection_columns(connection: AsyncConnection, order_id: uuid.UUID) -> dict[str, Any] | None:
    """`load_collection_row` on a connection in AUTOCOMMIT mode, by column name."""
    row = await LOADING.fetchrow(connection, {"order_key": order_id})
    return None if row is None else LOADING.typed(connection, row)
