"""The public contests as this process read them a moment ago.

A worker answers every SMS vote with the contests the short code lists and the chosen one's candidates; the Telegram
bot finds the voter's contest, its candidates and whether it offers mobile money at each of a vote's seven updates.
Those change a few times a night, yet were read afresh for each message: three of an SMS vote's fifteen queries, a
quarter of its handling's CPU. A copy a few seconds old is safe for a vote because it only words the answer. Placing
the order reads the contest and the candidate again in its own transaction (gateway.core.contests.rules.check_order):
the contest open, the candidate active, the price. A vote for a candidate withdrawn a second ago is refused there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.core.contests.catalog import PublicContest

KEPT_SECONDS = 5.0  # as the USSD menus' cache of a code's contests
MOST_KEPT = 256  # contests kept by slug; past it the copies are dropped and read again
T = TypeVar("T")


@dataclass
class KeptCatalog:
    """Each copy is read by one caller at a time: those asking while it is read wait for that read (a busy bot's
    updates found the copy gone together, and each read it again)."""

    seconds: float = KEPT_SECONDS
    clock: Callable[[], float] = time.monotonic
    _kept: dict[Hashable, tuple[float, Any]] = field(default_factory=dict)
    _reading: dict[Hashable, asyncio.Future[Any]] = field(default_factory=dict)

    async def public_contests(self, read: Callable[[], Awaitable[list[PublicContest]]]) -> list[PublicContest]:
        """Every public contest (no candidates), read with `read` when the copy is older than `seconds`."""

        async def as_tuple() -> tuple[PublicContest, ...]:
            return tuple(await read())

        return list(await self._copy("public", as_tuple))

    async def contest(self, slug: str, read: Callable[[], Awaitable[PublicContest]], *,
                      channel_fields: bool = False) -> PublicContest:
        """One public contest with its active candidates (and `read` gave the channels' settings of it, when
        `channel_fields`: kept apart from the copy without them); a contest `read` does not find (NotFound) is not
        kept."""
        return await self._copy((slug, channel_fields), read)

    async def _copy(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        kept = self._kept.get(key)
        if kept is not None and self.clock() - kept[0] < self.seconds:
            return kept[1]  # type: ignore[no-any-return]
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = asyncio.ensure_future(self._read(key, read))
            # Retrieved even when every caller was cut short, so a failed read is never reported as unretrieved.
            reading.add_done_callback(lambda done: done.cancelled() or done.exception())
        # Shielded: a caller cut short leaves the read to those still waiting for it.
        return await asyncio.shield(reading)

    async def _read(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        started = self.clock()
        try:
            value = await read()
        finally:
            del self._reading[key]
        if len(self._kept) >= MOST_KEPT:
            self._kept.clear()
        self._kept[key] = (started, value)
        return value
