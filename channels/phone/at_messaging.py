"""Texting a phone through Africa's Talking's SDK, for both phone channels (SMS's replies and receipts, USSD's
receipts). The SDK is synchronous: each call runs in a thread. Network errors and AT's errors are retried with
back-off, then raised (the messaging's `send_errors`): a channel keeps a row per message before it sends, so a job
that runs twice texts once and one that failed texts on its next run.

The SDK and `requests` are loaded when an `AtMessaging` is made (`channels.phone.at_sdk`), not with this module: the
web processes import it with their channels and never text.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from channels.phone.at_account import AtAccount

RETRY_DELAYS: tuple[float, ...] = (1.0, 3.0, 9.0)
ACCEPTED_CODES = frozenset({100, 101, 102})  # Processed, Sent, Queued (AT's per-recipient statusCode)
TIMEOUT = (3.05, 9.05)  # the SDK's default, said out loud


@dataclass(frozen=True)
class Route:
    """How a message reaches the voter: premium (with the inbound's linkId) on a premium short code."""

    short_code: str | None = None
    link_id: str | None = None


DIRECT = Route()  # a plain message, from the account's sender id


@dataclass(frozen=True)
class AtAnswer:
    """What AT said of the one recipient: its message id, and whether it took the message."""

    at_message_id: str | None
    accepted: bool
    status: str | None


class AtMessaging:
    """One account's texting, on a connection kept between texts; `retry_delays` may be shortened (tests)."""

    def __init__(self, account: AtAccount, retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        from channels.phone import at_sdk  # here, not above: the module's importers need not text (its docstring)

        self.account = account
        self.send_errors = at_sdk.SEND_ERRORS  # what `send` raises once its retries are spent
        self.http = at_sdk.kept_session()
        self.service = at_sdk.sms_service(account, self.http)
        self.retry_delays = tuple(retry_delays)
        # Its sockets closed when it goes, whoever made it (a job's context closes it sooner: `close`).
        self._closing = weakref.finalize(self, self.http.close)

    def close(self) -> None:
        self._closing()

    async def send(self, msisdn: str, text: str, route: Route = DIRECT) -> AtAnswer:
        """Network errors and AT's non-2xx answers (the SDK hides the status code: a 4xx is retried too, a
        bounded number of times) are retried with back-off, then raised."""
        for delay in (*self.retry_delays, None):
            try:
                at_id, code, status = recipient(await asyncio.to_thread(self._request, msisdn, text, route))
                return AtAnswer(at_id, code in ACCEPTED_CODES, status)
            except self.send_errors:
                if delay is None:
                    raise
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _request(self, msisdn: str, text: str, route: Route) -> Any:
        premium = route.short_code is not None and route.short_code in self.account.premium_short_codes
        if premium:
            return self.service.send_premium(text, route.short_code, [msisdn], link_id=route.link_id,
                                             timeout=TIMEOUT)
        return self.service.send(text, [msisdn], sender_id=self.account.sender_id or route.short_code,
                                 timeout=TIMEOUT)


def recipient(answer: Any) -> tuple[str | None, int | None, str | None]:
    """(messageId, statusCode, status) of the one recipient of AT's `SMSMessageData` answer."""
    try:
        if isinstance(answer, str):  # the SDK parses JSON only under exactly `application/json`
            answer = json.loads(answer)
        first = answer["SMSMessageData"]["Recipients"][0]
        return str(first.get("messageId") or "") or None, int(first.get("statusCode")), str(first.get("status"))
    except (KeyError, IndexError, TypeError, ValueError):  # json's errors are ValueErrors
        return None, None, "UnreadableAnswer"
