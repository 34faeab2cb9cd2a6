"""Which country a contest's voters are in, by the contest's slug, for reading the numbers they type: `0712 000 102`
on a Kenyan contest is +254712000102. A vote's path reads it before anything else (its payer's lock is named by the
number), so it is kept per process and read again at most once a minute: a contest's country is set before it goes
on air, and a changed one is in force everywhere within that minute."""

from __future__ import annotations

import time

from sqlalchemy import select

from gateway.core.market import countries
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Contest

FRESH_FOR = 60.0  # seconds a contest's country is kept before it is read again
MOST_KEPT = 4096  # contests remembered per process (a slug that names none is remembered too, briefly)


class ContestCountries:
    def __init__(self, sessions: Sessions, fresh_for: float = FRESH_FOR) -> None:
        self._sessions = sessions
        self._fresh_for = fresh_for
        self._kept: dict[str, tuple[str | None, float]] = {}
        countries()  # the countries' data read now, at the start, not in the first vote's path (tens of ms)

    async def of(self, slug: str) -> str | None:
        """The contest's country (ISO 3166-1 alpha-2), None if no contest has that slug."""
        now = time.monotonic()
        kept = self._kept.get(slug)
        if kept is not None and now - kept[1] < self._fresh_for:
            return kept[0]
        async with autocommit(self._sessions) as session:
            country = await session.scalar(select(Contest.country).where(Contest.slug == slug))
        if len(self._kept) >= MOST_KEPT:
            self._kept.clear()
        self._kept[slug] = (country, now)
        return country

    async def payer_number(self, slug: str, typed: str | None) -> str | None:
        """The number as the contest's voters write it, in E.164; as typed if it is none (the vote's checks refuse
        it with their own words), or if no contest has that slug (refused as unknown)."""
        if not typed or typed.startswith("+"):
            return typed
        country = await self.of(slug)
        if country is None:
            return typed
        try:
            return normalise_msisdn(typed, country)
        except InvalidMsisdn:
            return typed
