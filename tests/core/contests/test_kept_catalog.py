"""The public contests a worker's SMS jobs and the Telegram bot word their answers from are read once every few seconds,
not for every message; a contest that is not there is never kept, so it is found as soon as it is."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from gateway.core.contests.catalog import PublicContest
from gateway.core.contests.kept_catalog import KeptCatalog
from gateway.core.errors import NotFound
from gateway.db.models import ContestStatus


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def contest(name: str) -> PublicContest:
    at = datetime(2026, 11, 28, tzinfo=UTC)
    return PublicContest(1, "star", name, ContestStatus.OPEN, at, at, 100, "XAF", 10, ("mtn",), "fr", True, None)


async def test_a_contest_is_read_again_only_once_its_copy_is_older_than_its_seconds() -> None:
    clock, reads = Clock(), []

    async def read() -> PublicContest:
        reads.append(clock.now)
        return contest(f"Star {len(reads)}")

    kept = KeptCatalog(seconds=5.0, clock=clock)
    assert (await kept.contest("star", read)).name == "Star 1"
    clock.now += 4.9
    assert (await kept.contest("star", read)).name == "Star 1"
    clock.now += 0.1
    assert (await kept.contest("star", read)).name == "Star 2"
    assert reads == [100.0, 105.0]


async def test_a_contest_not_found_is_not_kept() -> None:
    clock, found = Clock(), [False]

    async def read() -> PublicContest:
        if not found[0]:
            raise NotFound("No contest is called 'star'.", code="contest_not_found")
        return contest("Star")

    kept = KeptCatalog(clock=clock)
    with pytest.raises(NotFound):
        await kept.contest("star", read)
    found[0] = True  # published a moment later
    assert (await kept.contest("star", read)).name == "Star"


async def test_the_list_is_kept_as_long_and_a_caller_cannot_change_the_copy() -> None:
    clock, reads = Clock(), []

    async def read() -> list[PublicContest]:
        reads.append(clock.now)
        return [contest("Star")]

    kept = KeptCatalog(seconds=5.0, clock=clock)
    first = await kept.public_contests(read)
    first.clear()
    assert [c.name for c in await kept.public_contests(read)] == ["Star"]
    clock.now += 5.0
    await kept.public_contests(read)
    assert reads == [100.0, 105.0]


async def test_a_contest_with_its_channel_settings_is_kept_apart_from_one_without() -> None:
    """The bot asks for the channels' settings (whether it sells mobile money); a copy read without them would say
    it sells none."""
    clock, reads = Clock(), []

    def read(channel_fields: bool) -> Callable[[], Awaitable[PublicContest]]:
        async def reading() -> PublicContest:
            reads.append(channel_fields)
            return contest("Star with fields" if channel_fields else "Star")
        return reading

    kept = KeptCatalog(clock=clock)
    assert (await kept.contest("star", read(False))).name == "Star"
    assert (await kept.contest("star", read(True), channel_fields=True)).name == "Star with fields"
    assert (await kept.contest("star", read(True), channel_fields=True)).name == "Star with fields"
    assert (await kept.contest("star", read(False))).name == "Star"
    assert reads == [False, True]


async def test_callers_that_find_the_copy_gone_together_share_one_read() -> None:
    """A busy bot's updates all found the copy old at once, and each read the contest again."""
    clock, reads, release = Clock(), [], asyncio.Event()

    async def read() -> PublicContest:
        reads.append(clock.now)
        await release.wait()
        return contest("Star")

    kept = KeptCatalog(clock=clock)
    callers = [asyncio.ensure_future(kept.contest("star", read)) for _ in range(10)]
    await asyncio.sleep(0)
    callers[0].cancel()  # one voter's update cut short: the others still get the read
    release.set()
    found = await asyncio.gather(*callers[1:])
    assert {c.name for c in found} == {"Star"} and len(reads) == 1
    assert (await kept.contest("star", read)).name == "Star" and len(reads) == 1


async def test_a_failed_shared_read_fails_each_caller_and_is_not_kept() -> None:
    clock, reads = Clock(), []

    async def read() -> PublicContest:
        reads.append(clock.now)
        await asyncio.sleep(0)
        if len(reads) == 1:
            raise NotFound("No contest is called 'star'.", code="contest_not_found")
        return contest("Star")

    kept = KeptCatalog(clock=clock)
    outcomes = await asyncio.gather(kept.contest("star", read), kept.contest("star", read), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [NotFound, NotFound] and len(reads) == 1
    assert (await kept.contest("star", read)).name == "Star"
