"""A provider's callback kept as it came, in `provider_events`: the insert that the callback's intake runs on its
own, and that the counting statement runs as one of its parts when the callback pays a pending order (the event
is then kept with its count, or neither is)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, DateTime, bindparam, exists, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.dml import ReturningInsert

from gateway.db.models import ProviderEvent
from gateway.db.storable import storable, storable_strings

UNSETTLED_AFTER = timedelta(seconds=60)  # an event kept this long without an outcome was cut short
# How far before PostgreSQL's now() a web process may say its callback arrived (its wait for a batch, a pooled
# connection): a host whose clock runs behind the database's cannot make an event look cut short as it is kept.
ARRIVAL_SLACK = timedelta(seconds=10)
EVENTS = ProviderEvent.__table__
# The run-time parameters of `kept_event`, named unlike any column (a Core INSERT would take those as values).
EVENT_PARAMETERS = ("ev_provider", "ev_id", "ev_order", "ev_kind", "ev_headers", "ev_body", "ev_received")


@dataclass(frozen=True)
class EventToKeep:
    provider: str
    event_id: str | None  # the provider's own, if it has one
    order_id: uuid.UUID | None  # ours, when the event is about one
    kind: str
    headers: Mapping[str, str]  # what is kept of them (never a secret)
    body: bytes
    # When the callback reached this process, by its clock (None: when it is kept): a count in a batch is kept
    # after waiting for the batch, and the log says when the provider called, not when we wrote it down.
    received_at: datetime | None = None

    def parameters(self) -> dict[str, object]:
        """For `kept_event`, as PostgreSQL keeps text: no NUL, nothing that is not UTF-8."""
        return {"ev_provider": self.provider, "ev_id": self.event_id and storable(self.event_id),
                "ev_order": self.order_id, "ev_kind": storable(self.kind[:100]),
                "ev_headers": storable_strings(self.headers),
                "ev_body": storable(self.body.decode("utf-8", errors="replace")), "ev_received": self.received_at}


def settled_before() -> ColumnElement[bool]:
    """Whether the event being kept (`ev_provider`, `ev_id`) was kept and settled before: a replay, whose word counts
    nothing again, on its own order's URL or on another's (a provider's event is about one payment)."""
    columns = EVENTS.c
    return exists().where(columns.provider == bindparam("ev_provider", type_=columns.provider.type),
                          columns.event_id == bindparam("ev_id", type_=columns.event_id.type),
                          columns.outcome.is_not(None))


def kept_event(outcome: ColumnElement[str | None], *, decided_here: bool = False) -> ReturningInsert[int]:
    """Insert the raw event, answering its key; nothing when the provider's event id was kept before and settled
    (a replay), or is being settled elsewhere.

    Events without an id never meet. A replay of one kept but never settled (the process died in between) claims
    it, by moving `received_at` to now, and settles it: Stripe's retry is the only other delivery a refund will
    get; a second replay meanwhile finds the claim fresh. `decided_here`: `outcome` is what the statement this insert
    is part of decided (it counted the order; NULL if it did not), and a replay that decided claims an unsettled
    event however fresh, to note that outcome on it: whoever else may be settling it will find the order decided."""
    columns = EVENTS.c
    given = {"ev_provider": columns.provider, "ev_id": columns.event_id, "ev_order": columns.order_id,
             "ev_kind": columns.kind, "ev_headers": columns.headers, "ev_body": columns.body}
    arrived = func.coalesce(bindparam("ev_received", type_=DateTime(timezone=True)), func.now())
    values = select(*(bindparam(name, type_=column.type) for name, column in given.items()), outcome.label("outcome"),
                    func.greatest(func.least(arrived, func.now()), func.now() - ARRIVAL_SLACK))
    claimable = columns.received_at < func.now() - UNSETTLED_AFTER  # cut short
    if decided_here:
        claimable = claimable | literal_column("excluded.outcome").is_not(None)
    return (pg_insert(EVENTS)
            .from_select(["provider", "event_id", "order_id", "kind", "headers", "body", "outcome", "received_at"],
                         values)
            .on_conflict_do_update(index_elements=[columns.provider, columns.event_id],
                                   index_where=columns.event_id.is_not(None),
                                   set_={"received_at": func.now(), "outcome": literal_column("excluded.outcome")},
                                   where=columns.outcome.is_(None) & claimable)
            .returning(columns.id))
