"""The paybills' payments as Daraja's statement lists them (Pull Transactions, `payments.mpesa.pull_transactions`):
what makes a paybill vote Safaricom's word twice over.

A confirmation counts at once on its URL's secret; the statement then says whether Safaricom took that money. A
pass of the worker (`statement_pass`, every minute) reads each live paybill's payments since its last whole read (a
few minutes more, for payments listed late), keeps each listed receipt (Redis, two days: past Daraja's own 48 hours)
and how far the paybill was read, and settles every listed payment that is no STK Push of ours exactly as its
confirmation would have been: a confirmation that never reached us still becomes votes, once (the receipt is the
order's key), counted on the statement's word with nothing left to verify.

A vote counted on a confirmation is verified by the core's verification queue (`MpesaCollections.fetch_status`):
its receipt listed, at its amount: agreed. Not listed though the paybill was read whole `LISTING_LAG` past the
payment's time: Safaricom never took that money, so the confirmation was forged; the queue takes its votes back off
and flags the order. Not read that far yet (the statement is late, Pull Transactions not registered for the
paybill, Daraja refusing): the queue asks again later, and the votes stand meanwhile, as a Stars payment's do while
Telegram's list cannot answer. Without Redis (a one-off command, a test) a process keeps them alone."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from payments.answers import text_of
from payments.mpesa import c2b
from payments.mpesa.pull_transactions import OUR_REFERENCE, REACH, listed_time

log = logging.getLogger(__name__)

KEPT_SECONDS = 3 * 86_400
FIRST_READ = timedelta(hours=2)  # a paybill never read: this far back
OVERLAP = timedelta(minutes=10)  # read again behind the last whole read: Daraja may list a payment late
LISTING_LAG = timedelta(minutes=15)  # how long after its time a payment may still be missing from the statement


def listed_key(paybill: str) -> str:
    return f"mpesa:c2b:listed:{paybill}"


def read_key(paybill: str) -> str:
    return f"mpesa:c2b:read-until:{paybill}"


@dataclass(frozen=True)
class Listed:
    receipt: str
    amount: int  # cents
    at: datetime | None


class StatementSeen:
    """Each paybill's listed receipts and how far its statement was read whole."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._listed: dict[str, dict[str, str]] = {}
        self._read: dict[str, float] = {}

    async def keep(self, paybill: str, listed: list[Listed], read_until: datetime) -> None:
        words = {item.receipt: json.dumps({"amount": item.amount, "at": item.at.isoformat() if item.at else None})
                 for item in listed}
        if self._redis is None:
            self._listed.setdefault(paybill, {}).update(words)
            self._read[paybill] = max(self._read.get(paybill, 0.0), read_until.timestamp())
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for receipt, word in words.items():
                pipe.hset(listed_key(paybill), receipt, word)
            if words:
                pipe.expire(listed_key(paybill), KEPT_SECONDS)
            pipe.set(read_key(paybill), read_until.timestamp(), ex=KEPT_SECONDS)
            await pipe.execute()

    async def listed(self, paybill: str, receipt: str) -> Listed | None:
        raw = self._listed.get(paybill, {}).get(receipt) if self._redis is None else \
            await self._redis.hget(listed_key(paybill), receipt)
        if not raw:
            return None
        word = json.loads(raw)
        return Listed(receipt, int(word["amount"]), datetime.fromisoformat(word["at"]) if word.get("at") else None)

    async def read_until(self, paybill: str) -> datetime | None:
        raw = self._read.get(paybill) if self._redis is None else await self._redis.get(read_key(paybill))
        return None if raw is None else datetime.fromtimestamp(float(raw), UTC)


def notice_of_row(row: dict[str, Any], paybill: str) -> c2b.C2bNotice | None:
    """A listed row as the confirmation would have told it; None for an STK Push of ours (its bill reference is our
    reference's first hex digits: `stk_push.account_reference`), a reversal, or a row without a receipt or amount."""
    bill = str(row.get("billreference") or "").strip()
    if OUR_REFERENCE.match(bill) or "revers" in str(row.get("transactiontype", "")).lower():
        return None
    at = listed_time(row.get("trxDate"))
    notice = c2b.notice_of({"TransID": row.get("transactionId"), "TransAmount": row.get("amount"),
                            "BusinessShortCode": paybill, "BillRefNumber": bill, "MSISDN": text_of(row.get("msisdn")),
                            "TransactionType": row.get("transactiontype")})
    if notice is None:
        return None
    return c2b.C2bNotice(notice.receipt, notice.paybill, notice.account, notice.amount, at, notice.msisdn,
                         notice.payer_ref, notice.shown_number, notice.kind)


def read_window(read_until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """Where the next read of a paybill starts and ends: behind its last whole read by `OVERLAP`, within Daraja's
    reach. Pure."""
    oldest = now - REACH + timedelta(minutes=10)
    start = now - FIRST_READ if read_until is None else read_until - OVERLAP
    return max(start, oldest), now


def judged(listed: Listed | None, read_until: datetime | None, paid_at: datetime | None, now: datetime) -> str:
    """"listed", "missing" (read whole past its time and its lag: Safaricom never took it) or "unknown" (not read
    that far yet). Pure."""
    if listed is not None:
        return "listed"
    due = (paid_at or now) + LISTING_LAG
    return "missing" if read_until is not None and read_until >= due else "unknown"

