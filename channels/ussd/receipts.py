"""The SMS that follows a USSD vote once its order is decided (gateway.core.orders.receipts): the receipt of a paid
order, or why it failed or expired, in the same words as an SMS vote's receipt (channels.phone.receipt_texts), sent
through Africa's Talking's messaging API (channels.phone.at_messaging). The USSD session is over by then: a text is
the only way left to tell the voter.

Once per order and kind: a row is kept before the text goes (`ussd_receipt_texts`, channels.phone.text_rows), so a
relay, a job or a reconciler pass that runs again texts nothing more; a row a failed send left `unsent` is taken
again by the next run.
A contest whose organiser turned it off (`ussd_no_receipt_sms`) gets none.

The rows are kept as the SMS channel's texts are (channels.phone.text_rows)."""

from __future__ import annotations

from channels.phone.at_messaging import AtMessaging
from channels.phone.receipt_texts import decided_order_text
from channels.phone.text_rows import TextRows
from channels.ussd.contest_settings import receipt_sms_wanted
from channels.ussd.models import UssdReceiptText
from gateway.core.orders.receipts import Receipt
from gateway.core.texts import Lang
from gateway.core.voters import payer_numbers
from gateway.db.engine import Sessions

TEXTS = TextRows(UssdReceiptText, ("order_id",))


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
        row = await TEXTS.claim(self.sessions, {"order_id": receipt.order.id}, receipt.kind.value,
                               receipt.payer_msisdn, text)
        if row is None:
            return  # sent already (or being sent by another run)
        await TEXTS.send(self.sessions, self.messaging, row, receipt.payer_msisdn, text)
