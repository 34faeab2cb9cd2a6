"""Daraja's Pull Transactions: the C2B payments into our shortcode over a time range, for the money check
(`Capability.STATEMENT_LISTING`), so that money paid in that names no order of ours is found.

What Safaricom documents, and what we take of it: the shortcode is registered once (`/pulltransactions/v1/register`,
with a nominated Safaricom number; see the README), then `/pulltransactions/v1/query` takes ShortCode, StartDate and
EndDate ("2020-08-04 08:36:00") and an OffSetValue (a row offset, not a page number) and lists each payment's
transactionId (the M-Pesa receipt), trxDate, msisdn, transactiontype, billreference (the AccountReference an STK
Push gave: our reference's first 12 hex digits) and amount; ResponseCode 1000 fetched, 1001 none. It lists C2B
payments only, and only those of the last 48 hours: an older day cannot be read, and says so.

Not documented, so read leniently: the list's key (`Response` as clients read it; `Transaction` as Safaricom's page
names the empty one), nested lists, the amount as a number or a string, and the time zone of StartDate/EndDate (we
send Nairobi's, as Daraja's other timestamps are, ask three hours more on each side, and keep the rows whose trxDate
falls in the range asked)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.core.money import minor_digits
from gateway.core.providers import PaymentError, ProviderCharge
from payments.answers import json_object_or_empty, text_of
from payments.mpesa.api import EAST_AFRICA, DarajaApi, error_of
from payments.mpesa.request_cap import NAME

CURRENCY = "KES"
REACH = timedelta(hours=48)  # how far back Daraja lists payments
SLACK = timedelta(hours=3)  # asked beyond each end, in case Daraja reads the range in UTC
FETCHED, NONE = "1000", "1001"
MOST_PAGES = 200  # a day past this many pages is not read whole: said so rather than half-read in silence
OUR_REFERENCE = re.compile(r"^[0-9A-Fa-f]{12}$")  # `stk_push.account_reference`


class PullTransactions:
    """One shortcode's C2B payments, as Daraja's Pull Transactions lists them."""

    def __init__(self, api: DarajaApi, shortcode: str) -> None:
        self._api = api
        self._shortcode = shortcode

    async def charges_between(self, start: datetime, end: datetime, now: datetime | None = None
                              ) -> list[ProviderCharge]:
        """Every C2B payment in [start, end), every page; PaymentError when Daraja cannot list them (the range
        reaches back past its 48 hours, or it refuses)."""
        return [charge for row in await self.rows_between(start, end, now)
                if (charge := charge_of(row, start, end)) is not None]

    async def rows_between(self, start: datetime, end: datetime, now: datetime | None = None
                           ) -> list[dict[str, Any]]:
        """Every listed row, as Daraja wrote it, of the pages that reach [start, end) (rows outside it included:
        `charge_of` and `listed_time` tell them); PaymentError as `charges_between`."""
        oldest = (now or datetime.now(UTC)) - REACH
        if start < oldest:
            raise PaymentError(NAME, "beyond_reach", "Daraja lists only the last 48 hours' payments: check this "
                               "day on the M-Pesa statement (org.ke.m-pesa.com).")
        asked_from = max(start - SLACK, oldest + timedelta(minutes=5))  # never past what Daraja keeps
        listed: list[dict[str, Any]] = []
        offset = 0
        for _ in range(MOST_PAGES):
            rows = await self._page(asked_from, end + SLACK, offset)
            if not rows:
                return listed
            offset += len(rows)
            listed += rows
        raise PaymentError(NAME, "too_many_pages", f"Daraja's list ran past {MOST_PAGES} pages: not read whole.")

    async def _page(self, start: datetime, end: datetime, offset: int) -> list[dict[str, Any]]:
        response = await self._api.post("/pulltransactions/v1/query", {
            "ShortCode": self._shortcode, "StartDate": daraja_time(start), "EndDate": daraja_time(end),
            "OffSetValue": str(offset)})
        data = json_object_or_empty(response)
        code = str(data.get("ResponseCode") or "")
        if response.status_code != 200 or code not in (FETCHED, NONE):
            raise error_of(response) if response.status_code != 200 else PaymentError(
                NAME, code or "unreadable_answer", str(data.get("ResponseMessage") or "Daraja listed nothing."),
                retryable=True)
        return [] if code == NONE else list(rows_in(data.get("Response", data.get("Transaction"))))


def daraja_time(moment: datetime) -> str:
    return moment.astimezone(EAST_AFRICA).strftime("%Y-%m-%d %H:%M:%S")


def rows_in(found: object) -> Iterator[dict[str, Any]]:
    """The transactions of an answer, however deep its lists go."""
    if isinstance(found, dict):
        yield found
    elif isinstance(found, list):
        for item in found:
            yield from rows_in(item)


def charge_of(row: dict[str, Any], start: datetime, end: datetime) -> ProviderCharge | None:
    """A listed payment in [start, end) as a charge (None: outside the range, a reversal, or no amount)."""
    receipt, when = text_of(row.get("transactionId")), listed_time(row.get("trxDate"))
    if receipt is None or "revers" in str(row.get("transactiontype", "")).lower():
        return None
    if when is not None and not start <= when < end:
        return None
    try:
        amount = Decimal(str(row.get("amount"))).scaleb(minor_digits(CURRENCY))
    except InvalidOperation:
        return None
    if amount <= 0 or amount != amount.to_integral_value():
        return None
    bill = str(row.get("billreference") or "").strip()
    return ProviderCharge(receipt, None, int(amount), CURRENCY,
                          reference_prefix=bill.lower() if OUR_REFERENCE.match(bill) else None)


def listed_time(value: object) -> datetime | None:
    """trxDate ("2020-08-05T10:13:00Z"; a time without its zone is Nairobi's); None when unreadable."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=EAST_AFRICA)
