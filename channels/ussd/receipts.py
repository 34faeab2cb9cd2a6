"""The SMS that follows a USSD vote once its order is decided (gateway.core.orders.receipts): the receipt of a paid
order, or why it failed or expired, in the same words as an SMS vote's receipt (channels.phone.receipt_texts), sent
through Africa's Talking's messaging API (channels.phone.at_messaging). The USSD session is over by then: a text is
the only way left to tell the voter.

Once per order and kind: a row is kept before the text goes (`ussd_receipt_texts`), so a relay, a job or a
reconciler pass that runs again texts nothing more; a row a failed send left `unsent` is taken again by the next run.
A contest whose organiser turned it off (`ussd_no_receipt_sms`) gets none.

The row's insert and the answer's note are `DriverStatement`s on an autocommit connection, as the SMS channel's
(channels/sms/store.py): through an ORM session each cost the worker more than the statement."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert

from channels.phone.at_messaging import SEND_ERRORS, AtMessaging
from channels.phone.receipt_texts import decided_order_text
from channels.ussd.contest_settings import receipt_sms_wanted
from channels.ussd.models import UssdReceiptText
from gateway.core.orders.receipts import Receipt
from gateway.core.texts import Lang
from gateway.core.voters import payer_numbers
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection

log = logging.getLogger(__name__)

NEW_TEXT = DriverStatement(insert(UssdReceiptText).values(
    order_id=bindparam("new_order_id"), kind=bindparam("new_kind"), msisdn=bindparam("new_msisdn"),
    text=bindparam("new_text"), status="queued").on_conflict_do_nothing().returning(UssdReceiptText.id),
    ("new_order_id", "new_kind", "new_msisdn", "new_text"))
NOTE_SENT = DriverStatement(update(UssdReceiptText).where(UssdReceiptText.id == bindparam("row")).values(
    at_message_id=bindparam("new_at_message_id"), status=bindparam("new_status"),
    failure_reason=bindparam("new_failure_reason")),
    ("row", "new_at_message_id", "new_status", "new_failure_reason"))


class UssdReceiptSender:
    def __init__(self, sessions: Sessions, messaging: AtMessaging | None) -> None:
        self.sessions = sessions
        self.messaging = messaging

    async def __call__(self, receipt: Receipt) -> None:
        if receipt.payer_msisdn is None or not await receipt_sms_wanted(self.sessions, receipt.order.contest_id):
            return
        caller = await payer_numbers.caller(self.sessions, receipt.payer_msisdn)
        lang = caller.language or Lang.parse(receipt.language) or Lang.FR
        text = decided_order_text(receipt, lang)
        row = await claim(self.sessions, receipt.order.id, receipt.kind.value, receipt.payer_msisdn, text)
        if row is None:
            return  # sent already (or being sent by another run)
        await self.send(row, receipt.payer_msisdn, text)

    async def send(self, row: int, msisdn: str, text: str) -> None:
        if self.messaging is None:
            log.warning("USSD receipt SMS %s not sent: no Africa's Talking account (AT_USERNAME/AT_API_KEY or "
                        "AT_FAKE_URL)", row)
            await note_sent(self.sessions, row, None, "unsent", "NoAccount")
            return
        try:
            answer = await self.messaging.send(msisdn, text)
        except SEND_ERRORS as exc:
            log.warning("USSD receipt SMS %s not sent after retries: %r", row, exc)
            await note_sent(self.sessions, row, None, "unsent", type(exc).__name__)
            raise
        await note_sent(self.sessions, row, answer.at_message_id, "Sent" if answer.accepted else "Rejected",
                        None if answer.accepted else answer.status)


async def claim(sessions: Sessions, order_id: uuid.UUID, kind: str, msisdn: str, text: str) -> int | None:
    """The row to send now: a new one, or one a failed run left `unsent`; None when this order's text of this kind
    went out (or is going out)."""
    async with autocommit_connection(sessions) as connection:
        row = await NEW_TEXT.fetchrow(connection, {"new_order_id": order_id, "new_kind": kind, "new_msisdn": msisdn,
                                                   "new_text": text})
    if row is not None:
        created: int = row["id"]
        return created
    async with sessions.begin() as session:  # this order has a text of this kind: sent, being sent, or left unsent
        reclaimed: int | None = await session.scalar(
            update(UssdReceiptText).where(UssdReceiptText.order_id == order_id, UssdReceiptText.kind == kind,
                                          UssdReceiptText.status == "unsent")
            .values(status="queued", text=text).returning(UssdReceiptText.id))
        return reclaimed


async def note_sent(sessions: Sessions, row: int, at_message_id: str | None, status: str,
                    failure_reason: str | None) -> None:
    async with autocommit_connection(sessions) as connection:
        await NOTE_SENT.fetchrow(connection, {"row": row, "new_at_message_id": at_message_id, "new_status": status,
                                              "new_failure_reason": failure_reason})
