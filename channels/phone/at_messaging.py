"""Texting a phone through Africa's Talking's SDK, for both phone channels (SMS's replies and receipts, USSD's
receipts). The SDK is synchronous: each call runs in a thread. Network errors and AT's errors are retried with
back-off, then raised (`SEND_ERRORS`): a channel keeps a row per message before it sends, so a job that runs twice
texts once and one that failed texts on its next run.

The SDK posts each message with `requests.post`: a new session and a new connection for every text, which against
AT's hosts is a TCP and a TLS handshake (two or three round trips to AT, ~1-3 ms of CPU) before the message, inside
a worker that answers one SMS at a time. `KeptSMSService` sends through one `requests.Session` an `AtMessaging`
keeps, whose connection stays open between texts (on loopback, without TLS, 0.5 ms of CPU a text less)."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from africastalking.Service import DEFAULT_TIMEOUT_S, AfricasTalkingException
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


class KeptSMSService(SMSService):  # type: ignore[misc]  # the SDK is untyped
    """AT's SMS service posting on `http`, a session whose connection is kept between texts. Everything but the
    POST itself (the form, the headers, reading the answer) is the SDK's."""

    def __init__(self, username: str, api_key: str, http: requests.Session) -> None:
        super().__init__(username, api_key)
        self.http = http

    def _make_request(self, url: str, method: str, headers: dict[str, str], data: Any, params: Any,
                      callback: Any = None, timeout: Any = DEFAULT_TIMEOUT_S) -> Any:
        if callback is not None or method.upper() != "POST":
            return super()._make_request(url, method, headers, data, params, callback, timeout)
        res = self.http.post(url=url, headers=headers, params=params, data=data, timeout=timeout)
        if not 200 <= res.status_code < 300:
            raise AfricasTalkingException(res.text)
        # As the SDK reads an answer: JSON only under exactly `application/json` (see `recipient`).
        return res.json() if res.headers.get("content-type") == "application/json" else res.text


def sms_service(account: AtAccount, http: requests.Session | None = None) -> SMSService:
    """The SDK's SMS service, on `http`'s kept connection when given one."""
    service = (KeptSMSService(account.username, account.api_key, http) if http is not None
               else SMSService(account.username, account.api_key))
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
    """One account's texting, on a connection kept between texts; `retry_delays` may be shortened (tests)."""

    def __init__(self, account: AtAccount, retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.account = account
        self.http = requests.Session()
        self.service = sms_service(account, self.http)
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
