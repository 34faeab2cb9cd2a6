"""Orders held together: a rule that judges a person (a burst of payments, a fourth payer number from one browser,
a payer someone refused before) fires on the order that shows it, but the same person's orders just before were
part of the same act and were counted. When a paid order is held for such a rule, the orders of the same payer
number, or of the same chat user or browser, counted in the hour before it are held with it: their votes leave
the board (a ledger entry each) until a person counts them again or refuses them, as for any held order.

Address rules never reach back: a shared address's other people are not the held order's payer. Run by the
worker from the held order's outbox row, off the confirmation's path.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import and_, or_, select

from gateway.core.fraud.hold_figures import rules_of
from gateway.core.fraud.rules import Rule
from gateway.core.orders import accounting
from gateway.core.outbox import emit
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, VoteOrder

# The rules that judge a person, not a place: what they held reaches back to the same person's orders.
PERSON_RULES = frozenset({Rule.PAYER_VELOCITY, Rule.VOTER_VELOCITY, Rule.PAYER_DAILY_VOTES, Rule.QUICK_PAYMENTS,
                          Rule.NUMBERS_PER_VOTER, Rule.PAYER_HISTORY})
LOOK_BACK = timedelta(hours=1)
AT_MOST = 200  # orders held with one (a burst bigger than that is held in turns, by its own later orders)


def reaches_back(reason: str | None) -> bool:
    return bool(reason) and any(rule in PERSON_RULES for rule in rules_of(reason or ""))


async def hold_earlier(sessions: Sessions, order_id: uuid.UUID) -> list[uuid.UUID]:
    """Hold, with the held order `order_id`, its payer's (or voter's) orders counted in the hour before it; returns
    them. Safe to repeat: an order held once is no longer counted, and is not found again."""
    async with sessions.begin() as session:
        held = await session.get(VoteOrder, order_id)
        if held is None or held.status is not OrderStatus.HELD or held.decided_at is None \
                or not reaches_back(held.hold_reason):
            return []
        same = [VoteOrder.voter_msisdn == held.voter_msisdn] if held.voter_msisdn else []
        if held.voter_ref:
            same.append(and_(VoteOrder.channel == held.channel, VoteOrder.voter_ref == held.voter_ref))
        if not same:
            return []
        earlier = (await session.scalars(
            select(VoteOrder).where(
                VoteOrder.contest_id == held.contest_id, or_(*same), VoteOrder.status == OrderStatus.PAID,
                VoteOrder.candidate_id.is_not(None), VoteOrder.decided_at >= held.decided_at - LOOK_BACK,
                VoteOrder.decided_at <= held.decided_at)
            .order_by(VoteOrder.decided_at).limit(AT_MOST).with_for_update())).all()
        rules = ", ".join(rule for rule in rules_of(held.hold_reason or "") if rule in PERSON_RULES)
        reason = f"{Rule.HELD_TOGETHER.value}: with order {held.payment_reference}, held for {rules}"
        for order in earlier:
            await accounting.record_change(session, ledger.EntryKind.WITHHELD, order, sign=-1)  # and the tally
            order.status, order.hold_reason = OrderStatus.HELD, reason
            await emit(session, "vote.uncounted", order_id=str(order.id), contest_id=order.contest_id)
        if earlier:
            session.add(AuditEntry(actor="system", action="order.held_together", target=str(order_id),
                                   details={"orders": [str(order.id) for order in earlier]}))
        return [order.id for order in earlier]
