"""What became of one inbound message, as the service's own rows tell it: whether it was handled, the order it
placed and that order's state, and every SMS sent for it (the reply, the payment prompt, the receipt) under
Africa's Talking's id of each. `gateway sms` reads it (GET /sms/africastalking/inbound/{at_id}) to know when an
exchange is over whatever language its texts are in: no word of a message says so."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select

from channels.sms.models import SmsInbound, SmsMessage
from gateway.core.errors import NotFound
from gateway.core.orders.receipts import ReceiptKind
from gateway.core.service import VoteService
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus

# An order in one of these states gets a receipt of the same name; the others (held, flagged, refunds) none now.
RECEIPTED = frozenset(kind.value for kind in ReceiptKind)


@dataclass(frozen=True)
class Sent:
    kind: str  # usage, prompt, paid, failed, … (one per inbound or order and kind)
    at_message_id: str | None  # None: not handed to AT (yet, or it refused: `status` says)
    status: str


@dataclass(frozen=True)
class Exchange:
    handled: bool
    outcome: str | None  # vote, help, top, stop, unrecognised, refused, …
    order_status: str | None  # None: the message placed no order
    sent: tuple[Sent, ...]

    @property
    def over(self) -> bool:
        """Nothing more is coming: the message was answered and, if it placed an order, the order was decided and
        its receipt handed to AT (or decided in a way that sends none now)."""
        if not self.handled or self.order_status == OrderStatus.PENDING:
            return False
        if self.order_status in RECEIPTED:
            return any(sent.kind == self.order_status and sent.at_message_id for sent in self.sent)
        return True

    def as_json(self) -> dict[str, object]:
        return {"handled": self.handled, "outcome": self.outcome, "over": self.over,
                "order": None if self.order_status is None else {"status": self.order_status},
                "sent": [{"kind": s.kind, "message_id": s.at_message_id, "status": s.status} for s in self.sent]}


async def exchange(sessions: Sessions, service: VoteService, at_id: str) -> Exchange | None:
    """The exchange AT's message `at_id` began (its order as the core shows it to its voter); None when no such
    message came."""
    async with sessions() as session:
        inbound = await session.scalar(select(SmsInbound).where(SmsInbound.at_id == at_id))
        if inbound is None:
            return None
        status = None if inbound.order_id is None else await order_status(service, inbound.order_id)
        ours = SmsMessage.inbound_id == inbound.id
        if inbound.order_id is not None:
            ours = or_(ours, SmsMessage.order_id == inbound.order_id)
        rows = await session.scalars(select(SmsMessage).where(ours).order_by(SmsMessage.id))
        sent = tuple(Sent(row.kind, row.at_message_id, row.status) for row in rows)
    return Exchange(inbound.handled_at is not None, inbound.outcome, None if status is None else status.value, sent)


async def order_status(service: VoteService, order_id: uuid.UUID) -> OrderStatus | None:
    try:
        return (await service.order(order_id)).status
    except NotFound:  # removed since (a contest's test orders): nothing more is coming for it
        return None
