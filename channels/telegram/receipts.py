"""The receipt a Telegram voter gets once their order is decided (gateway.core.orders.receipts), sent by a job.

Once per order and kind: the job may run twice (a relay retried), so the first send is remembered in
PostgreSQL (`telegram_receipts`) before the message goes, and forgotten again if Telegram refused it.
"""

from __future__ import annotations

import logging

import httpx
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert

from channels.telegram.models import TelegramReceipt
from channels.telegram.settings import TelegramBotAddress
from channels.telegram.texts import language_of, receipt_template, texts
from gateway.core.orders.receipts import Receipt
from gateway.db.engine import Sessions, autocommit

log = logging.getLogger(__name__)


def receipt_text(receipt: Receipt) -> str:
    """The receipt in the voter's language; a paid one quotes the provider's receipt code where its payers are given
    one (`VoterOrder.receipt_code`, M-Pesa's: the code M-Pesa's own message quotes, the proof they give)."""
    t = texts(language_of(receipt.language))
    order = receipt.order
    template = receipt_template(t, receipt.kind.value, order.quantity, with_receipt_code=bool(order.receipt_code))
    return template.format(reference=order.reference, quantity=order.quantity, code=order.candidate_code,
                           name=order.candidate_name, contest=receipt.contest_name, receipt=order.receipt_code,
                           provider=receipt.provider_label or order.provider)


class TelegramReceipts:
    """A `ReceiptSender` for orders placed in the bot (their `voter_ref` is the chat)."""

    def __init__(self, sessions: Sessions, http: httpx.AsyncClient, bot: TelegramBotAddress) -> None:
        self.sessions = sessions
        self.http = http
        self.url = bot.method_url("sendMessage")

    async def __call__(self, receipt: Receipt) -> None:
        if not receipt.voter_ref:
            return
        if not await self.first_time(receipt):
            return
        try:
            response = await self.http.post(self.url, json={"chat_id": int(receipt.voter_ref),
                                                            "text": receipt_text(receipt)})
            response.raise_for_status()
        except httpx.HTTPError:
            await self.forget(receipt)  # the job is retried: the receipt goes then
            raise

    async def first_time(self, receipt: Receipt) -> bool:
        async with autocommit(self.sessions) as session:
            kept = await session.scalar(
                pg_insert(TelegramReceipt).values(order_id=receipt.order.id, kind=receipt.kind.value)
                .on_conflict_do_nothing().returning(TelegramReceipt.order_id))
        return kept is not None

    async def forget(self, receipt: Receipt) -> None:
        async with autocommit(self.sessions) as session:
            await session.execute(delete(TelegramReceipt).where(TelegramReceipt.order_id == receipt.order.id,
                                                                TelegramReceipt.kind == receipt.kind.value))
