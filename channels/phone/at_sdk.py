"""Africa's Talking's SDK itself, and `requests` under it: loaded only by a process that texts (a worker running a
receipt or an SMS job, the SMS backstop), never by a web process, whose start they would cost tens of milliseconds
of CPU for nothing (`channels.phone.at_messaging` imports this module when an `AtMessaging` is made).

The SDK posts each message with `requests.post`: a new session and a new connection for every text, which against
AT's hosts is a TCP and a TLS handshake (two or three round trips to AT, ~1-3 ms of CPU) before the message, inside
a worker that answers one SMS at a time. `KeptSMSService` sends through one `requests.Session` an `AtMessaging`
keeps, whose connection stays open between texts (on loopback, without TLS, 0.5 ms of CPU a text less)."""

from __future__ import annotations

from typing import Any

import requests
from africastalking.Service import DEFAULT_TIMEOUT_S, AfricasTalkingException
from africastalking.SMS import SMSService

from channels.phone.at_account import AtAccount

# What a text's sending raises once its retries are spent: the network's errors and AT's (a non-2xx answer).
SEND_ERRORS = (requests.RequestException, AfricasTalkingException)


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


def kept_session() -> requests.Session:
    """A session whose connection to AT stays open between texts."""
    return requests.Session()
