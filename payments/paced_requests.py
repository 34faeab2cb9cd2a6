"""Requests under a provider's cap on one application. A provider's API gateway holds each application (its client
id, consumer key) to so many requests a second across all its APIs and answers "slow down" past it. So every request
of one application takes a turn of one schedule that every process and host shares (`gateway.kit.paced_turns`), at
90% of the cap: the rest absorbs jitter. A "slow down" that still comes back (another deployment on the same
application, a cap the provider lowered) is sent again after a wait, on a turn of its own; one refused on every try
is the provider's `ProviderRateLimited` (retryable), never a refusal of the payment. A refused request took nothing
in: resending it is safe.

Status enquiries take at most half the schedule's turns (`ENQUIRY_SHARE`): anyone may ask for them (a callback that
is not vouched for asks for one, bounded by `gateway.kit.callback_checks`, and the reconciler polls), and a payer's
prompt, a refund or a payout must never queue behind them. However many enquiries wait, the other requests leave a
turn or two after they ask.

Each provider keeps its own facts (`RequestCap`) in its folder: its name, which answers mean "slow down", and the
error it raises."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.core.providers import ProviderRateLimited
from gateway.kit.paced_turns import PacedTurns

SHARE = 0.9  # of the cap, for our schedule: the rest absorbs jitter
ENQUIRY_SHARE = 0.5  # of the schedule's turns, at most, for status enquiries: the rest is the prompts' and money out's


@dataclass(frozen=True)
class RequestCap:
    """What one provider's gateway says about its cap: `slow_down` tells its "too many requests" answer from any
    other, and `refused` is the error for a request refused so on every try."""

    provider: str
    slow_down: Callable[[httpx.Response], bool]
    refused: Callable[[], ProviderRateLimited]

    @classmethod
    def by_status(cls, provider: str, status: int, message: str) -> RequestCap:
        """A gateway whose "slow down" is an HTTP status of its own (429 mostly); `message` tells the refusal."""
        return cls(provider, lambda response: response.status_code == status,
                   lambda: ProviderRateLimited(provider, "too_many_requests", message, retryable=True, status=status))


class PacedRequests:
    """The requests of one application, each on its turn under the cap (`per_second`: None or 0 lifts it)."""

    def __init__(self, http: httpx.AsyncClient, application: str, cap: RequestCap, *, turns: PacedTurns | None,
                 per_second: float | None, resend_delays: tuple[float, ...]) -> None:
        self._http = http
        self._cap = cap
        self._turns = turns or PacedTurns(None)
        self._per_second = per_second
        self._resend_delays = resend_delays
        # Named by a digest: the schedule's Redis key says which application without spelling out its credentials.
        self._schedule = f"pace:{cap.provider}:{hashlib.sha256(application.encode()).hexdigest()[:16]}"

    async def request(self, method: str, url: str, *, enquiry: bool = False, **kwargs: Any) -> httpx.Response:
        """Send on this application's next turn; a "slow down" is sent again later (raises the provider's
        ProviderRateLimited when every try was refused so, and httpx.TransportError as the client does).
        `enquiry`: a status enquiry, on the enquiries' share of the turns."""
        for delay in (0.0, *self._resend_delays):
            if delay:
                await asyncio.sleep(delay)
            response = await self.send_once(method, url, enquiry=enquiry, **kwargs)
            if not self._cap.slow_down(response):
                return response
        raise self._cap.refused()

    async def send_once(self, method: str, url: str, *, enquiry: bool = False, **kwargs: Any) -> httpx.Response:
        """Send on this application's next turn, whatever comes back: for a caller that resends on its own terms.
        `enquiry`: a status enquiry, on the enquiries' share of the turns."""
        if self._per_second and enquiry:
            await self._turns.wait_within_share(self._schedule, self._per_second * SHARE, "enquiries", ENQUIRY_SHARE)
        elif self._per_second:
            await self._turns.wait(self._schedule, self._per_second * SHARE)
        return await self._http.request(method, url, **kwargs)
