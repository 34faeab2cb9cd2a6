"""M-Pesa's payments as the core asks after them: an STK Push's by its prompt's query (`payments.mpesa.stk_push`),
and a paybill's (paid from the M-Pesa menu, counted on its confirmation: `payments.mpesa.c2b_routes`) by the
paybill's statement as the worker last read it (`payments.mpesa.c2b_statement`): Daraja has no query of a C2B
payment by its receipt that answers at once (its Transaction Status query answers later, on a URL, and needs an
initiator), while Pull Transactions lists them all."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from gateway.core.money_in.paid_unasked import same_account
from gateway.core.providers import Collection, CollectionNotFound, PaymentError, PaymentState, StatusResult
from payments.mpesa import c2b
from payments.mpesa.api import DarajaApi
from payments.mpesa.c2b_register import REGISTER_PATH, C2bRegistration
from payments.mpesa.c2b_statement import (
    Listed,
    StatementSeen,
    judged,
    notice_of_row,
    read_back_to,
    read_window,
)
from payments.mpesa.pull_transactions import PullTransactions, listed_time
from payments.mpesa.request_cap import NAME
from payments.mpesa.stk_push import MpesaStkPush


class MpesaCollections(MpesaStkPush):
    """The STK Push, and the paybills' C2B payments read from their statements."""

    def __init__(self, api: DarajaApi, shortcode: str, passkey: str, public_base_url: str, callback_key: bytes, *,
                 party_b: str | None = None, redis: Redis | None = None,
                 register_path: str = REGISTER_PATH) -> None:
        super().__init__(api, shortcode, passkey, public_base_url, callback_key, party_b=party_b)
        self.daraja = api
        self.seen = StatementSeen(redis)
        self.registration = C2bRegistration(api, public_base_url, callback_key, redis, register_path)

    async def fetch_status(self, collection: Collection) -> StatusResult:
        paid = collection.provider_data.get(c2b.PROVIDER_DATA)
        if not isinstance(paid, dict):
            return await super().fetch_status(collection)
        return await self.statement_word(str(paid.get("paybill")), str(paid.get("receipt")),
                                         parsed_time(paid.get("paid_at")), str(paid.get("account") or ""))

    async def statement_word(self, paybill: str, receipt: str, paid_at: datetime | None,
                             account: str) -> StatusResult:
        """A paybill payment's standing in its statement as last read (see `c2b_statement.judged`): listed for
        another account than its confirmation named (another candidate's code), it is a disagreement."""
        listed = await self.seen.listed(paybill, receipt)
        read_from = await self.seen.read_from(paybill)
        verdict = judged(listed, read_from, await self.seen.read_until(paybill), paid_at, datetime.now(UTC))
        if verdict == "missing":
            raise CollectionNotFound(NAME, "not_in_statement", f"The paybill's statement lists no payment {receipt}.")
        if listed is None and read_from is not None and not read_back_to(read_from, paid_at):
            raise PaymentError(NAME, "statement_not_read_back", f"The paybill's statement was not read back to "
                               f"{receipt}'s time: check it on the M-Pesa statement (org.ke.m-pesa.com).",
                               retryable=True)
        if listed is None:
            raise PaymentError(NAME, "statement_not_read", "The paybill's statement was not read past this payment "
                                                           "yet.", retryable=True)
        if listed.bill is not None and not same_account(listed.bill, account):
            return StatusResult(PaymentState.FAILED, listed.amount, c2b.CURRENCY, receipt,
                                raw_status=f"listed for account {listed.bill[:20]!r}, not {account[:20]!r}")
        return StatusResult(PaymentState.SUCCESSFUL, listed.amount, c2b.CURRENCY, receipt,
                            raw_status="statement:listed")

    async def read_paybill(self, paybill: str, now: datetime | None = None) -> list[tuple[c2b.C2bNotice, str]]:
        """The paybill's statement since its last whole read: each C2B payment not an STK Push of ours, with its
        row (JSON) to keep; every listed receipt kept, and the read's end once it is whole. Raises PaymentError."""
        now = now or datetime.now(UTC)
        start, end = read_window(await self.seen.read_until(paybill), now)
        rows = await PullTransactions(self.daraja, paybill).rows_between(start, end, now)
        listed, notices = [], []
        for row in rows:
            notice = notice_of_row(row, paybill, now)
            receipt, at = str(row.get("transactionId") or ""), listed_time(row.get("trxDate"))
            amount = c2b.cents(row.get("amount"))
            if receipt and amount is not None and "revers" not in str(row.get("transactiontype", "")).lower():
                listed.append(Listed(receipt.upper(), amount, at, str(row.get("billreference") or "").strip()))
            if notice is not None:
                notices.append((notice, json.dumps(row, default=str)))
        await self.seen.keep(paybill, listed, start, end)
        return notices


def parsed_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
