"""Sending SMS through Africa's Talking's SDK, from jobs only (it is synchronous: each call runs in a
thread). Every message is a row first (one per order or inbound and kind), so a job or relay that runs
twice sends once; network errors and AT's errors are retried with back-off, then the row says `unsent`
(a later run of the same job takes it again)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from channels.sms import store
from channels.sms.settings import SmsSettings
from channels.sms.store import Outgoing
from gateway.db.engine import Sessions

log = logging.getLogger(__name__)
RETRY_DELAYS: tuple[float, ...] = (1.0, 3.0, 9.0)
ACCEPTED_CODES = frozenset({100, 101, 102})  # Processed, Sent, Queued (AT's per-recipient statusCode)
TIMEOUT = (3.05, 9.05)  # the SDK's default, said out loud


@dataclass(frozen=True)
class AtAccount:
    username: str
    api_key: str
    base_url: str | None  # the local fake of AT's API (development); None: the SDK's own hosts
    sender_id: str | None
    premium_short_codes: frozenset[str]


def at_account(settings: SmsSettings) -> AtAccount | None:
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
    """How a reply reaches the voter: premium (with the inbound's linkId) on a premium short code."""

    short_code: str | None = None
    link_id: str | None = None


class SmsSender:
    def __init__(self, sessions: Sessions, account: AtAccount | None,
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.sessions = sessions
        self.account = account
        self.service = sms_service(account) if account is not None else None
        self.retry_delays = tuple(retry_delays)

    async def send(self, message: Outgoing, route: Route = Route()) -> bool:
        """Send once per order/inbound and kind; False when it was sent (or is being sent) already."""
        message_id = await store.claim_outgoing(self.sessions, message)
        if message_id is None:
            return False
        if self.service is None:
            log.warning("SMS %s not sent: no Africa's Talking account (AT_USERNAME/AT_API_KEY or AT_FAKE_URL)",
                        message_id)
            await store.note_sent(self.sessions, message_id, None, "unsent", "NoAccount")
            return True
        try:
            answer = await self._call(message, route)
        except (requests.RequestException, AfricasTalkingException) as exc:
            log.warning("SMS %s not sent after retries: %r", message_id, exc)
            await store.note_sent(self.sessions, message_id, None, "unsent", type(exc).__name__)
            raise
        at_id, code, status = recipient(answer)
        accepted = code in ACCEPTED_CODES
        await store.note_sent(self.sessions, message_id, at_id, "Sent" if accepted else "Rejected",
                              None if accepted else status)
        return True

    async def _call(self, message: Outgoing, route: Route) -> Any:
        """Network errors and AT's non-2xx answers (the SDK hides the status code: a 4xx is retried too, a
        bounded number of times) are retried with back-off."""
        for delay in (*self.retry_delays, None):
            try:
                return await asyncio.to_thread(self._request, message, route)
            except (requests.RequestException, AfricasTalkingException):
                if delay is None:
                    raise
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _request(self, message: Outgoing, route: Route) -> Any:
        assert self.service is not None and self.account is not None
        premium = route.short_code is not None and route.short_code in self.account.premium_short_codes
        if premium:
            return self.service.send_premium(message.text, route.short_code, [message.msisdn],
                                             link_id=route.link_id, timeout=TIMEOUT)
        return self.service.send(message.text, [message.msisdn], sender_id=self.account.sender_id or route.short_code,
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
