"""Orange's cap on our requests. Orange's API gateway allows an application 25 requests a second across all its APIs
(the token endpoint, WebPay's payments, the push's init and pay, and every status call, together); past it, it
answers HTTP 403 with code 53, "Too many requests", and asks for a short wait (seconds) before the request is sent
again. (From a transcription of Orange's error-handling page, "Best practices for API error handling and
troubleshooting" on developer.orange.com: its spike arrest.)

So every request of one application (its client id) takes a turn of one schedule that every process and host shares
(`gateway.kit.paced_turns`), at 90% of the cap: the rest absorbs jitter. A 403/53 that still comes back (another
deployment on the same application, a cap Orange lowered) is sent again after a wait, on a turn of its own; one
refused on every try is "slow down" (`ProviderRateLimited`, retryable), never a refusal of the payment: a start is
tried again later and a status check on a later pass, while the order stays pending.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx

from gateway.core.providers import ProviderRateLimited
from gateway.kit.paced_turns import PacedTurns
from payments.answers import json_object_or_empty

NAME = "orange"
REQUESTS_PER_SECOND = 25.0  # Orange's gateway, per application, every API together
SHARE = 0.9  # of the cap, for our schedule
TOO_MANY_REQUESTS = 53  # the gateway's error code, with HTTP 403
RESEND_DELAYS = (1.0, 2.0)  # Orange: wait "a short delay (in the range of seconds)" before sending again


def too_many_requests(response: httpx.Response) -> bool:
    """The gateway's 403 for going over the application's rate (code 53), not a refusal of the request."""
    if response.status_code != 403:
        return False
    code = json_object_or_empty(response).get("code")
    return str(code) == str(TOO_MANY_REQUESTS)


def rate_limited() -> ProviderRateLimited:
    return ProviderRateLimited(NAME, "too_many_requests", "Orange refused a request over the application's rate "
                               "(403, code 53).", retryable=True, status=403)


class RequestCap:
    """The requests of one Orange application, each on its turn under the cap (`per_second`: None or 0 lifts it)."""

    def __init__(self, http: httpx.AsyncClient, application: str, *, turns: PacedTurns | None = None,
                 per_second: float | None = REQUESTS_PER_SECOND,
                 resend_delays: tuple[float, ...] = RESEND_DELAYS) -> None:
        self._http = http
        self._turns = turns or PacedTurns(None)
        self._per_second = per_second
        self._resend_delays = resend_delays
        # Named by a digest: the schedule's Redis key says which application without spelling out its credentials.
        self._schedule = f"pace:orange:{hashlib.sha256(application.encode()).hexdigest()[:16]}"

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send on this application's next turn; a 403/53 is sent again later (raises ProviderRateLimited when
        every try was refused so, and httpx.TransportError as the client does)."""
        for delay in (0.0, *self._resend_delays):
            if delay:
                await asyncio.sleep(delay)
            if self._per_second:
                await self._turns.wait(self._schedule, self._per_second * SHARE)
            response = await self._http.request(method, url, **kwargs)
            if not too_many_requests(response):
                return response
        raise rate_limited()
