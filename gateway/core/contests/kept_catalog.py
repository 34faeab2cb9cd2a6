"""The public contests as this process read them a moment ago.

A worker answers every SMS vote with the contests the short code lists and the chosen one's candidates; the Telegram
bot finds the voter's contest, its candidates and whether it offers mobile money at each of a vote's seven updates.
Those change a few times a night, yet were read afresh for each message: three of an SMS vote's fifteen queries, a
quarter of its handling's CPU. A copy a few seconds old is safe for a vote because it only words the answer. Placing
the order reads the contest and the candidate again in its own transaction (gateway.core.contests.rules.check_order):
the contest open, the candidate active, the price. A vote for a candidate withdrawn a second ago is refused there.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gateway.core.contests.catalog import PublicContest

KEPT_SECONDS = 5.0  # as the USSD menus' cache of a code's contests
MOST_KEPT = 256  # contests kept by slug; past it the copies are dropped and read again


@dataclass
class KeptCatalog:
    seconds: float = KEPT_SECONDS
    clock: Callable[[], float] = time.monotonic
    _public: tuple[float, tuple[PublicContest, ...]] | None = None
    _by_slug: dict[tuple[str, bool], tuple[float, PublicContest]] = field(default_factory=dict)

    async def public_contests(self, read: Callable[[], Awaitable[list[PublicContest]]]) -> list[PublicContest]:
        """Every public contest (no candidates), read with `read` when the copy is older than `seconds`."""
        now = self.clock()
        if self._public is None or now - self._public[0] >= self.seconds:
            self._public = (now, tuple(await read()))
        return list(self._public[1])

    async def contest(self, slug: str, read: Callable[[], Awaitable[PublicContest]], *,
                      channel_fields: bool = False) -> PublicContest:
        """One public contest with its active candidates (and `read` gave the channels' settings of it, when
        `channel_fields`: kept apart from the copy without them); a contest `read` does not find (NotFound) is not
        kept."""
        now = self.clock()
        kept = self._by_slug.get((slug, channel_fields))
        if kept is None or now - kept[0] >= self.seconds:
            if len(self._by_slug) >= MOST_KEPT:
                self._by_slug.clear()
            kept = self._by_slug[(slug, channel_fields)] = (now, await read())
        return kept[1]
