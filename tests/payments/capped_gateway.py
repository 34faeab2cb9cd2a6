"""A provider's API gateway faked at the wire (respx) for the tests of its cap on our requests: it notes when each
request came and answers the next `refusing` requests with its "too many requests" answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import httpx

Body = dict[str, object]


def most_in_any_second(times: Iterable[float]) -> int:
    """The most requests that came within any one second."""
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t < start + 1.0) for i, start in enumerate(ordered))


class CappedGateway:
    def __init__(self, too_many: Callable[[], httpx.Response]) -> None:
        self.seen: list[float] = []
        self.refusing = 0  # the next N requests are answered `too_many` (the spike arrest)
        self._too_many = too_many

    def answer(self, status: int, body: Body | Callable[[], Body]) -> Callable[[httpx.Request], httpx.Response]:
        def respond(request: httpx.Request) -> httpx.Response:
            self.seen.append(time.monotonic())
            if self.refusing:
                self.refusing -= 1
                return self._too_many()
            return httpx.Response(status, json=body() if callable(body) else body)
        return respond

    def most_in_any_second(self) -> int:
        return most_in_any_second(self.seen)
