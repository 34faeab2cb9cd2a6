"""Texting a phone through Africa's Talking's SDK, for both phone channels (SMS's replies and receipts, USSD's
receipts). The SDK is synchronous: each call runs in a thread. Network errors and AT's errors are retried with
back-off, then raised (`SEND_ERRORS`): a channel keeps a row per message before it sends, so a job that runs twice
texts once and one that failed texts on its next run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from channels.phone.settings import AtMessagingSettings

RETRY_DELAYS: tuple[float, ...] = (1.0, 3.0, 9.0)
ACCEPTED_CODES = frozenset({100, 101, 102})  # Processed, Sent, Queued (AT's per-recipient statusCode)
TIMEOUT = (3.05, 9.05)  # the SDK's default, said out loud
SEND_ERRORS = (requests.RequestException, AfricasTalkingException)


@dataclass(frozen=True)
class AtAccount:
    username: str
    api_key: str
    base_url: str | None  # the local fake of AT's API (development); None: the SDK's own hosts
    sender_id: str | None
    premium_short_codes: frozenset[str]


def at_account(settings: AtMessagingSettings) -> AtAccount | None:
    """Real credentials, else the local fake in development, else None (messages stay `unsent`)."""
    premium = frozenset(code.strip() for code in settings.at_premium_short_codes.split(",") if code.strip())
    if settings.at_username and settings.at_api_key:
        return AtAccount(settings.at_username, settings.at_api_key.get_secret_value(), None, settings.at_sender_id,
                         premium)
    if settings.at_fake_url and not settings.is_production:
        return AtAccount("sandbox", "fake-at-api-key", settings.at_fake_url.rstrip("/"), None, premium)
    return None


def sms_service(account: AtAccount) -> SMSService:
    service = SMSService(account.username, account.api_key)
    if account.base_url is not None:
        # The SDK picks its host from the username and offers no setting for another one (protocols.md §2);
        # its URLs are built from these two attributes, so development points them at the local fake.
        service._baseUrl = service._contentUrl = f"{account.base_url}/version1"
    return service


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
    """One account's texting; `retry_delays` may be shortened (tests)."""

    def __init__(self, account: AtAccount, retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.account = account
        self.service = sms_service(account)
        self.retry_delays = tuple(retry_delays)

    async def send(self, msisdn: str, text: str, route: Route = DIRECT) -> AtAnswer:
        """Network errors and AT's non-2xx answers (the SDK hides the status code: a 4xx is retried too, a
        bounded number of times) are retried with back-off, then raised."""
        for delay in (*self.retry_delays, None):
            try:
                at_id, code, status = recipient(await asyncio.to_thread(self._request, msisdn, text, route))
                return AtAnswer(at_id, code in ACCEPTED_CODES, status)
            except SEND_ERRORS:
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
