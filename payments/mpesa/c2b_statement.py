"""The paybills' payments as Daraja's statement lists them (Pull Transactions, `payments.mpesa.pull_transactions`):
what makes a paybill vote Safaricom's word twice over.

A confirmation counts at once on its URL's secret; the statement then says whether Safaricom took that money. A
pass of the worker (`statement_pass`, every minute) reads each live paybill's payments since its last whole read (a
few minutes more, for payments listed late), keeps each listed receipt (Redis, two days: past Daraja's own 48 hours)
and how far the paybill was read, and settles every listed payment that is no STK Push of ours exactly as its
confirmation would have been: a confirmation that never reached us still becomes votes, once (the receipt is the
order's key), counted on the statement's word with nothing left to verify.

A vote counted on a confirmation is verified by the core's verification queue (`MpesaCollections.fetch_status`):
its receipt listed, at its amount: agreed. Not listed though one unbroken run of whole reads covered the payment's
time, from before it to `LISTING_LAG` past it: Safaricom never took that money, so the confirmation was forged; the
queue takes its votes back off and flags the order. The run's start is kept beside its end (`read_from`): a paybill's
first read reaches only `FIRST_READ` back, and a gap of more than Daraja's 48 hours (Pull Transactions registered late,
the worker stopped, what was kept expired) starts a new run, so a payment older than the run was never looked for
and is no proof of anything. Not read that far, or not back that far: the queue asks again later, and the votes stand
meanwhile, as a Stars payment's do while Telegram's list cannot answer; one older than the run stays in the
verification queue (its backlog on /metrics and the contest's dashboard, "awaiting verification" in the settlement,
never paid out), for a person to check on the M-Pesa statement. Without Redis (a one-off command, a test) a process
keeps them alone."""

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


def from_key(paybill: str) -> str:
    return f"mpesa:c2b:read-from:{paybill}"


@dataclass(frozen=True)
class Listed:
    receipt: str
    amount: int  # cents
    at: datetime | None
    bill: str | None = None  # the account number the payer typed (None: kept before bill references were)


class StatementSeen:
    """Each paybill's listed receipts and the unbroken run of whole reads of its statement: where it starts and
    how far it reaches."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._listed: dict[str, dict[str, str]] = {}
        self._read: dict[str, float] = {}
        self._from: dict[str, float] = {}

    async def keep(self, paybill: str, listed: list[Listed], read_from: datetime, read_until: datetime) -> None:
        """The receipts of a whole read of [read_from, read_until), and the run it extends (or starts)."""
        run_from = run_start(await self.read_from(paybill), await self.read_until(paybill), read_from)
        words = {item.receipt: json.dumps({"amount": item.amount, "at": item.at.isoformat() if item.at else None,
                                           "bill": item.bill}) for item in listed}
        if self._redis is None:
            self._listed.setdefault(paybill, {}).update(words)
            self._read[paybill] = max(self._read.get(paybill, 0.0), read_until.timestamp())
            self._from[paybill] = run_from.timestamp()
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            for receipt, word in words.items():
                pipe.hset(listed_key(paybill), receipt, word)
            if words:
                pipe.expire(listed_key(paybill), KEPT_SECONDS)
            pipe.set(read_key(paybill), read_until.timestamp(), ex=KEPT_SECONDS)
            pipe.set(from_key(paybill), run_from.timestamp(), ex=KEPT_SECONDS)
            await pipe.execute()

    async def listed(self, paybill: str, receipt: str) -> Listed | None:
        raw = self._listed.get(paybill, {}).get(receipt) if self._redis is None else \
            await self._redis.hget(listed_key(paybill), receipt)
        if not raw:
            return None
        word = json.loads(raw)
        return Listed(receipt, int(word["amount"]), datetime.fromisoformat(word["at"]) if word.get("at") else None,
                      word.get("bill"))

    async def read_until(self, paybill: str) -> datetime | None:
        raw = self._read.get(paybill) if self._redis is None else await self._redis.get(read_key(paybill))
        return None if raw is None else datetime.fromtimestamp(float(raw), UTC)

    async def read_from(self, paybill: str) -> datetime | None:
        """Where the unbroken run of whole reads reaching `read_until` starts (None: none kept)."""
        raw = self._from.get(paybill) if self._redis is None else await self._redis.get(from_key(paybill))
        return None if raw is None else datetime.fromtimestamp(float(raw), UTC)


def run_start(run_from: datetime | None, run_until: datetime | None, read_from: datetime) -> datetime:
    """Where the run of whole reads starts once a read from `read_from` is done: the kept run's start when the read
    joins it (begins no later than its end), else the read's own start (a run kept without its start, from before
    starts were kept, is not trusted). Pure."""
    if run_from is not None and run_until is not None and read_from <= run_until:
        return min(run_from, read_from)
    return read_from


def notice_of_row(row: dict[str, Any], paybill: str, read_at: datetime) -> c2b.C2bNotice | None:
    """A listed row as the confirmation would have told it (its time trxDate, never later than `read_at`); None for
    an STK Push of ours (its bill reference is our reference's first hex digits: `stk_push.account_reference`), a
    reversal, or a row without a receipt or amount."""
    bill = str(row.get("billreference") or "").strip()
    if OUR_REFERENCE.match(bill) or "revers" in str(row.get("transactiontype", "")).lower():
        return None
    at = listed_time(row.get("trxDate"))
    notice = c2b.notice_of({"TransID": row.get("transactionId"), "TransAmount": row.get("amount"),
                            "BusinessShortCode": paybill, "BillRefNumber": bill, "MSISDN": text_of(row.get("msisdn")),
                            "TransactionType": row.get("transactiontype")}, read_at)
    if notice is None:
        return None
    return c2b.C2bNotice(notice.receipt, notice.paybill, notice.account, notice.amount, c2b.paid_time(at, read_at),
                         notice.msisdn, notice.payer_ref, notice.shown_number, notice.kind)


def read_window(read_until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """Where the next read of a paybill starts and ends: behind its last whole read by `OVERLAP`, within Daraja's
    reach. Pure."""
    oldest = now - REACH + timedelta(minutes=10)
    start = now - FIRST_READ if read_until is None else read_until - OVERLAP
    return max(start, oldest), now


def judged(listed: Listed | None, read_from: datetime | None, read_until: datetime | None, paid_at: datetime | None,
           now: datetime) -> str:
    """"listed"; "missing" (one unbroken run of whole reads covered its time, from before it to its lag past it, and
    the receipts that run listed are still kept: Safaricom never took it); else "unknown" (not read that far yet,
    not read back that far, or no time to place it by). Pure."""
    if listed is not None:
        return "listed"
    if paid_at is None or read_from is None or read_until is None:
        return "unknown"
    covered = max(read_from, now - timedelta(seconds=KEPT_SECONDS)) <= paid_at
    return "missing" if covered and read_until >= paid_at + LISTING_LAG else "unknown"


def read_back_to(read_from: datetime | None, paid_at: datetime | None) -> bool:
    """Whether the run of reads starts before the payment: if not, waiting will never find it. Pure."""
    return read_from is not None and paid_at is not None and read_from <= paid_at

