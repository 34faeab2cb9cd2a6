"""The public board of a contest: who is on it (PostgreSQL, cached briefly), the tallies (Redis), the rules."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.contests.catalog import PUBLIC_STATUSES
from gateway.core.contests.ranking import BoardTop, PublicBoard, public_board, rank_candidates
from gateway.core.contests.rounds import MAX_COUNTDOWN
from gateway.core.errors import NotFound
from gateway.core.results.jury_parts import public_jury
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Candidate, CandidateStatus, Contest, ContestRound, ContestStatus, RoundBaseline
from gateway.kit.overlay_cue import UNCUED, OverlayCue, read_cue
from leaderboard import cache
from leaderboard.board import (
    BoardContest,
    BoardRound,
    CandidateInfo,
    Rendered,
    Tallies,
    is_frozen,
    render,
    shown_tallies,
)

log = logging.getLogger(__name__)

SHOWN_STATUSES = (CandidateStatus.ACTIVE, CandidateStatus.ELIMINATED)
K = TypeVar("K")
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    """Concurrent callers for one key share one read.

    When thousands of viewers connect at once (a show starts, a process restarts), each contest is read
    once per wave rather than once per viewer; Redis's connection pool would otherwise run out. A read
    joined late may miss a change made meanwhile: whoever must see a change (the stream's pump) passes
    `not_before`, the loop time it learnt of it, and joins only a read started since.
    """

    def __init__(self) -> None:
        self._running: dict[K, tuple[float, asyncio.Task[T]]] = {}
        self._reads: set[asyncio.Task[T]] = set()  # every read under way, also one a newer read replaced

    async def run(self, key: K, work: Callable[[], Awaitable[T]], *, not_before: float | None = None) -> T:
        entry = self._running.get(key)
        if entry is None or (not_before is not None and entry[0] < not_before):
            task = asyncio.ensure_future(work())
            entry = (asyncio.get_running_loop().time(), task)
            self._running[key] = entry
            self._reads.add(task)
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(entry[1])

    async def close(self) -> None:
        """Shutdown: end the reads under way and wait for them. A read outlives the callers that left,
        so the server's wait for its handlers does not cover it; one still running when the engine is
        disposed would keep its connection out of the pool, and only the garbage collector would close it."""
        reads = list(self._reads)
        for task in reads:
            task.cancel()
        await asyncio.gather(*reads, return_exceptions=True)

    def _finished(self, key: K, task: asyncio.Task[T]) -> None:
        self._reads.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here too, in case every caller has gone away
        entry = self._running.get(key)
        if entry is not None and entry[1] is task:
            del self._running[key]


async def load_contest_view(sessions: Sessions, *, slug: str | None = None,
                            contest_id: int | None = None) -> BoardContest | None:
    """A public contest (not a draft) and the candidates its board shows, or None."""
    condition = Contest.slug == slug if slug is not None else Contest.id == contest_id
    async with autocommit(sessions) as session:
        contest = await session.scalar(select(Contest).where(condition, Contest.status.in_(PUBLIC_STATUSES)))
        if contest is None:
            return None
        rows = await session.execute(
            select(Candidate.id, Candidate.code, Candidate.name)
            .where(Candidate.contest_id == contest.id, Candidate.status.in_(SHOWN_STATUSES))
            .order_by(Candidate.id)  # a stable order: the board's ETag is a checksum of these
        )
        candidates = tuple(CandidateInfo(id_, code, name) for id_, code, name in rows)
        jury = await public_jury(session, contest.id, contest.public_weight_pct)
        shown_round = await board_round(session, contest)
    if shown_round is not None:  # a show in rounds: the round's candidates only
        candidates = tuple(c for c in candidates if c.id in shown_round.baselines)
    sealed = public_board(contest.show_counts, contest.board_sealed, contest.status) is PublicBoard.SEALED
    return BoardContest(contest.id, contest.slug, contest.show_counts, contest.board_frozen_at, candidates, sealed,
                        jury if jury.shown else None,
                        free_apart=contest.free_votes_per_day > 0 and contest.free_vote_weight == "apart",
                        round=shown_round, lines_close_at=closing_soon(contest, datetime.now(UTC)))


# How near the close a board starts saying when it is (each viewer then counts down): a producer's countdown is
# at most this long (gateway.core.contests.rounds.MAX_COUNTDOWN).
COUNTDOWN_FROM = MAX_COUNTDOWN


def closing_soon(contest: Contest, now: datetime) -> datetime | None:
    """When the contest's lines close, if they are open and close within the countdown's reach."""
    if contest.status is ContestStatus.OPEN and contest.opens_at <= now < contest.closes_at <= now + COUNTDOWN_FROM:
        return contest.closes_at
    return None


async def board_round(session: AsyncSession, contest: Contest) -> BoardRound | None:
    """The round a contest's board shows (its current one), with the figures its candidates started from."""
    if contest.current_round_id is None:
        return None
    found = await session.get(ContestRound, contest.current_round_id)
    if found is None:
        return None
    rows = await session.execute(select(RoundBaseline.candidate_id, RoundBaseline.votes).where(
        RoundBaseline.round_id == found.id))
    baselines = {candidate: votes for candidate, votes in rows}
    return BoardRound(found.number, found.name, baselines)


class Boards:
    """Reads boards for one web process. Contest settings are cached for `contest_ttl` seconds, so an
    organiser's change of visibility reaches viewers within that time (the tallies are never cached here)."""

    def __init__(self, sessions: Sessions, redis: Redis, contest_ttl: float,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.sessions = sessions
        self.redis = redis
        self._ttl = contest_ttl
        self._clock = clock or (lambda: datetime.now(UTC))
        self._by_id: dict[int, tuple[float, BoardContest]] = {}
        self._ids: dict[str, int] = {}
        self._loads: SingleFlight[str | int, BoardContest | None] = SingleFlight()
        self._renders: SingleFlight[int, Rendered] = SingleFlight()

    async def close(self) -> None:
        """Shutdown, before the database and Redis close: no read of a board outlives them."""
        await self._loads.close()
        await self._renders.close()

    async def contest(self, slug: str) -> BoardContest:
        """The contest called `slug`, or NotFound (drafts are not public)."""
        contest_id = self._ids.get(slug)
        view = self._fresh(contest_id) if contest_id is not None else None
        if view is None or view.slug != slug:
            view = await self._loads.run(slug, lambda: load_contest_view(self.sessions, slug=slug))
            if view is None:
                raise NotFound(f"No contest is called {slug!r}.", code="contest_not_found")
            self._remember(view)
        return view

    async def contest_by_id(self, contest_id: int) -> BoardContest | None:
        view = self._fresh(contest_id)
        if view is None:
            view = await self._loads.run(contest_id, lambda: load_contest_view(self.sessions, contest_id=contest_id))
            if view is not None:
                self._remember(view)
        return view

    async def tallies(self, contest: BoardContest) -> Tallies:
        """Frozen: the tallies as of the freeze moment; otherwise the live ones. With Redis away
        (restarting), straight from PostgreSQL: slower, but the board stays up."""
        if contest.sealed:
            return Tallies(0, 0, {})  # never read: nothing of a sealed board's votes can leave this process
        now = self._clock()
        frozen_at = contest.frozen_at if contest.frozen_at and is_frozen(contest.frozen_at, now) else None
        try:
            if frozen_at is not None:
                return await cache.frozen_tallies(self.sessions, self.redis, contest.id, frozen_at, now)
            return await cache.live_tallies(self.sessions, self.redis, contest.id)
        except RedisError as exc:
            log.warning("board of contest %s read from PostgreSQL, Redis is unavailable: %r", contest.id, exc)
            return await cache.tallies_from_postgres(self.sessions, contest.id, frozen_at)

    async def top(self, contest_id: int, n: int | None = None) -> BoardTop:
        """The core's port (`gateway.core.contests.ranking.BoardReader`): the board's first `n` rows as it serves
        them."""
        contest = await self.contest_by_id(contest_id)
        if contest is None:
            raise NotFound("No public contest has that id.", code="contest_not_found")
        if contest.sealed:
            return BoardTop((), False, False, sealed=True)
        rows = rank_candidates(contest.candidates, shown_tallies(contest, await self.tallies(contest)).votes)
        return BoardTop(tuple(rows[:n]), contest.show_counts, is_frozen(contest.frozen_at, self._clock()))

    async def render(self, contest: BoardContest, *, not_before: float | None = None) -> Rendered:
        """The board; with `not_before` (loop time), from a read that started no earlier."""
        return await self._renders.run(contest.id, lambda: self.render_now(contest), not_before=not_before)

    async def render_now(self, contest: BoardContest) -> Rendered:
        """The board from a read of its own, shared with no other caller."""
        # Both reads at once: near the peak every await waits a whole turn of a busy loop, and a frame's
        # lateness is the sum of its turns.
        tallies, cue = await asyncio.gather(self.tallies(contest), self.cue(contest.id))
        return render(contest, tallies, cue)

    async def cue(self, contest_id: int) -> OverlayCue:
        """The overlay's cue from the control room; with Redis away, the default (shown, each overlay's layout)."""
        try:
            return await read_cue(self.redis, contest_id)
        except RedisError:
            return UNCUED

    def forget(self, contest_id: int) -> None:
        """Read the contest's settings again at its next board: the producer changed them (a cue, the lines)."""
        self._by_id.pop(contest_id, None)

    def _fresh(self, contest_id: int) -> BoardContest | None:
        entry = self._by_id.get(contest_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def _remember(self, view: BoardContest) -> None:
        self._by_id[view.id] = (time.monotonic() + self._ttl, view)
        self._ids[view.slug] = view.id
