"""The SMS channel's receipts (gateway.core.orders.receipts): the confirmation of a paid order, or the reason
it failed or expired, sent once per order and kind (a relay or job that runs twice sends nothing more).
Numbers that sent STOP still get these: they are about their own money."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select

from channels.phone.receipt_texts import decided_order_text
from channels.sms.models import SmsInbound
from channels.sms.sender import Route, SmsSender
from channels.sms.store import Outgoing
from gateway.core.orders.receipts import Receipt
from gateway.core.texts import Lang
from gateway.core.voters import payer_numbers
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection

# Read before every receipt: run by the driver, as the channel's other hot statements (channels/sms/store.py).
ROUTE_OF_ORDER = DriverStatement(select(SmsInbound.short_code, SmsInbound.link_id)
                                 .where(SmsInbound.order_id == bindparam("order_id")).limit(1), ("order_id",))


class SmsReceiptSender:
    def __init__(self, sessions: Sessions, sender: SmsSender) -> None:
        self.sessions = sessions
        self.sender = sender

    async def __call__(self, receipt: Receipt) -> None:
        if receipt.payer_msisdn is None:
            return
        order = receipt.order
        caller = await payer_numbers.caller(self.sessions, receipt.payer_msisdn)
        lang = caller.language or Lang.parse(receipt.language) or Lang.FR
        text = decided_order_text(receipt, lang)
        await self.sender.send(Outgoing(receipt.kind.value, receipt.payer_msisdn, text, order_id=order.id),
                               await self.route(order.id))

    async def route(self, order_id: object) -> Route:
        """The short code (and linkId) of the message that placed the order."""
        async with autocommit_connection(self.sessions) as connection:
            row = await ROUTE_OF_ORDER.fetchrow(connection, {"order_id": order_id})
        return Route(row["short_code"], row["link_id"]) if row is not None else Route()


class SmsNoticeSender:
    """The SMS channel's texter (gateway.core.phone_texts): one message per notice and kind."""

    def __init__(self, sender: SmsSender) -> None:
        self.sender = sender

    async def __call__(self, msisdn: str, text: str, notice_id: uuid.UUID, kind: str) -> None:
        await self.sender.send(Outgoing(kind, msisdn, text, notice_id=notice_id))
