"""Daraja's cap on our requests. Safaricom's API gateway (Apigee) holds each Daraja app to a spike arrest of its own
(granted per app, a few requests a second unless Safaricom raised it) and answers 429 past it. So every request of
one app (its token, prompts, queries, reversals, payouts) takes a turn of one schedule that every process and host
shares (`gateway.kit.paced_turns`), at 90% of the cap set (`MPESA_REQUESTS_PER_SECOND`); a 429 that still comes
back is sent again after a wait, on a turn of its own, and one refused on every try is "slow down"
(`ProviderRateLimited`, retryable), never a refusal of the payment."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx

from gateway.core.providers import ProviderRateLimited
from gateway.kit.paced_turns import PacedTurns

NAME = "mpesa"
REQUESTS_PER_SECOND = 5.0
SHARE = 0.9  # of the cap, for our schedule: the rest absorbs jitter
TOO_MANY_REQUESTS = 429
RESEND_DELAYS = (1.0, 2.0)


class RequestCap:
    """The requests of one Daraja app, each on its turn under the cap (`per_second`: None or 0 lifts it)."""

    def __init__(self, http: httpx.AsyncClient, application: str, *, turns: PacedTurns | None = None,
                 per_second: float | None = REQUESTS_PER_SECOND,
                 resend_delays: tuple[float, ...] = RESEND_DELAYS) -> None:
        self._http = http
        self._turns = turns or PacedTurns(None)
        self._per_second = per_second
        self._resend_delays = resend_delays
        # Named by a digest: the schedule's Redis key says which app without spelling out its consumer key.
        self._schedule = f"pace:mpesa:{hashlib.sha256(application.encode()).hexdigest()[:16]}"

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send on this app's next turn; a 429 is sent again later (raises ProviderRateLimited when every try was
        refused so, and httpx.TransportError as the client does). A 429 took nothing in: resending it is safe."""
        for delay in (0.0, *self._resend_delays):
            if delay:
                await asyncio.sleep(delay)
            if self._per_second:
                await self._turns.wait(self._schedule, self._per_second * SHARE)
            response = await self._http.request(method, url, **kwargs)
            if response.status_code != TOO_MANY_REQUESTS:
                return response
        raise ProviderRateLimited(NAME, "too_many_requests", "Daraja refused a request over the app's rate (429).",
                                  retryable=True, status=TOO_MANY_REQUESTS)
