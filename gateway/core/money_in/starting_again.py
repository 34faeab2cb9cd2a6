"""Starting an order's payment again when the provider says its prompt will never be paid (`StatusResult.start_again`:
M-Pesa's 1001, another prompt held the phone when this one came). The vote is not lost: the order is put back
among those never started, with what the dead start kept moved under `EARLIER_STARTS`, and the start's own path
(the start queue's retries, then the reconciler's `restart_lost_push`) pushes a new prompt, which the provider
refuses, retryably, for as long as the phone is still held. A few times at most: past them the order fails with
the provider's reason, which tells the voter to finish the other prompt first."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, Text, bindparam, cast, exists, func, literal, or_, update
from sqlalchemy.dialects.postgresql import JSONB

from gateway.core.money_in.collections import KEPT_DURING_START
from gateway.core.money_in.reasons import readable_reason
from gateway.core.orders import closing
from gateway.core.orders.outcomes import Outcome
from gateway.core.orders.tables import still_pending
from gateway.core.providers import EARLIER_STARTS, Collection, StatusResult
from gateway.db.engine import Sessions
from gateway.db.models import ProviderEvent, VoteOrder

log = logging.getLogger(__name__)

# New prompts an order may be given after the first: each waits for the phone to be free, and each moves the
# order's expiry to the end of the provider's window again, so the bound is also what keeps an order from waiting
# for ever behind a phone that is never free.
STARTS_AGAIN = 3
# What the dead start kept on the order (a start cut short) no longer applies: kept apart under another kind.
KEPT_BY_EARLIER_START = "start.kept.earlier"

_ORDERS = VoteOrder.__table__
_DATA = _ORDERS.c.provider_data
_EARLIER = literal(EARLIER_STARTS, String)


def earlier_starts_with(start: ColumnElement[Any]) -> ColumnElement[Any]:
    """The order's provider_data once `start` (what a dead start kept) joins its EARLIER_STARTS: nothing else."""
    return func.jsonb_build_object(_EARLIER, func.coalesce(_DATA[EARLIER_STARTS], cast(literal("[]"), JSONB))
                                   .op("||")(func.jsonb_build_array(start)))


# The started order goes back to never started, in one statement guarded by the start it judged (its
# payment_started_at): a second check of the same dead prompt, or one that comes after the new prompt was recorded,
# changes nothing.
PUT_BACK = (update(_ORDERS)
            .where(_ORDERS.c.id == bindparam("order_key"), still_pending(_ORDERS.c.status),
                   _ORDERS.c.payment_started_at == bindparam("started_at"))
            .values(payment_started_at=None, start_lease_until=None,
                    status_reason=bindparam("reason", type_=Text),
                    provider_data=earlier_starts_with(_DATA.op("-")(_EARLIER)))
            .returning(_ORDERS.c.id))
_EVENTS = ProviderEvent.__table__
# A start cut short (its process died after the provider took the prompt and the start kept what it answered, before
# the start was recorded): its prompt is the order's only through what it kept. Once its lease is over (no start
# under way, none recorded since), the order is put back all the same, what the start kept moved under
# EARLIER_STARTS (as the collection read it, `kept`); left alone, its dead prompt would be queried until the order
# expires, and no new one ever pushed.
PUT_BACK_CUT_SHORT = (update(_ORDERS)
                      .where(_ORDERS.c.id == bindparam("order_key"), still_pending(_ORDERS.c.status),
                             _ORDERS.c.payment_started_at.is_(None),
                             or_(_ORDERS.c.start_lease_until.is_(None), _ORDERS.c.start_lease_until < func.now()),
                             exists().where(_EVENTS.c.order_id == _ORDERS.c.id, _EVENTS.c.kind == KEPT_DURING_START))
                      .values(status_reason=bindparam("reason", type_=Text),
                              provider_data=earlier_starts_with(bindparam("kept", type_=JSONB)))
                      .returning(_ORDERS.c.id))
SET_KEPT_APART = (update(_EVENTS)
                  .where(_EVENTS.c.order_id == bindparam("order_key"), _EVENTS.c.kind == KEPT_DURING_START)
                  .values(kind=KEPT_BY_EARLIER_START))


def earlier_starts(provider_data: dict[str, object]) -> int:
    earlier = provider_data.get(EARLIER_STARTS)
    return len(earlier) if isinstance(earlier, list) else 0


async def start_again(sessions: Sessions, order: VoteOrder, collection: Collection, status: StatusResult) -> Outcome:
    """Put the order's payment back to be started again (`Outcome.START_AGAIN`), or fail it once it has been
    started again `STARTS_AGAIN` times. The order is told why meanwhile (its status_reason, the provider's reason
    in the voter's words), and told it again if that is how it ends. A start cut short is put back too, once its
    lease is over (`PUT_BACK_CUT_SHORT`); until then it is `Outcome.START_UNDER_WAY`: the start may yet record the
    dead prompt, to be checked again once it has."""
    reason = readable_reason(status.reason or status.raw_status)
    if earlier_starts(order.provider_data) >= STARTS_AGAIN:
        changed = await closing.fail_order(sessions, order.id, reason)
        return Outcome.FAILED if changed else Outcome.ALREADY_DECIDED
    started_at: datetime | None = order.payment_started_at
    kept = {key: value for key, value in collection.provider_data.items() if key != EARLIER_STARTS}
    if started_at is None and not kept:  # put back already: its start is owed anyway
        return Outcome.PENDING
    async with sessions.begin() as session:
        if started_at is None:
            statement, values = PUT_BACK_CUT_SHORT, {"order_key": order.id, "kept": kept, "reason": reason}
        else:
            statement, values = PUT_BACK, {"order_key": order.id, "started_at": started_at, "reason": reason}
        put_back = (await session.execute(statement, values)).first()
        if put_back is None:  # started again already, or (cut short) its start still holds it: not decided yet
            return Outcome.PENDING if started_at is not None else Outcome.START_UNDER_WAY
        await session.execute(SET_KEPT_APART, {"order_key": order.id})
    log.info("the prompt of %s will never be paid (%s): started again", order.id, status.raw_status)
    return Outcome.START_AGAIN
