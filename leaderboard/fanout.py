"""The board through a fan-out server (Nchan): each frame published once, whatever the number of viewers.

Past one machine's viewers, nobody's stream is served by a web process: the front sends the stream's path to
Nchan (deploy/nchan.conf.template), which keeps every viewer's connection, a short buffer per channel for reconnects
with `Last-Event-ID`, and answers a new viewer with the channel's newest frame. The service's part is to
publish, to `<slug>`, each board as `public_board` allows it: a sealed board goes out sealed. The fan-out server
puts each frame in every shard of the board's stream (identical channels `<slug>.<n>`, its viewers spread over
them), and several fan-out servers share their channels through Redis: one POST reaches every viewer.

One web process publishes at a time (a lease in Redis): several publishers could post an older read after a
newer one, or a board from before a seal after the sealed one. When the holder dies, another takes the lease
within `lease_seconds` and publishes every board again, so the worst a failover costs is a short pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from gateway.core.contests.catalog import PUBLIC_STATUSES
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Contest
from gateway.kit.time_limits import answer_within
from leaderboard.board import Rendered
from leaderboard.boards import Boards, load_contest_view
from leaderboard.hub import Frame, flush_delay
from leaderboard.publish_secret import HEADER

log = logging.getLogger(__name__)
LEASE_KEY = "leaderboard:fanout-publisher"
# The channels published to and not withdrawn since (contest id -> slug), whoever published them: a process that
# takes the lease over learns from it which boards to withdraw, and which channel to probe for a restart.
CHANNELS_KEY = "leaderboard:fanout-channels"
REQUEST_SECONDS = 5.0  # a fan-out server slower than this is treated as away: the next change or resync retries
EVENT_NAME = "leaderboard"  # the `event:` of each frame, as the service's own stream names it
# A board no longer public (its contest taken back to draft): the channel's newest frame says so, so that no
# viewer, nor any new one, goes on seeing the last board (the page stops, as when the stream answers 404).
# Not a deletion of the channel: with Nchan 1.3.6 a subscriber to a deleted channel of
# `nchan_subscriber_first_message -1` aborts the nginx worker (spool.c:479, seen here), and every viewer on it.
WITHDRAWN_EVENT = "withdrawn"
WITHDRAWN_BODY = b'{"withdrawn": true}'
# Renew the lease when ours (1), take it when free (2: somebody else may have held it since); never take it from
# another holder (0).
_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class FanoutConfig:
    publish_url: str  # Nchan's publisher location, ending in '/': the channel id (a contest's slug) follows
    secret: str  # BOARD_FANOUT_SECRET: the fan-out server refuses a publisher's request without it (403)
    coalesce_seconds: float = 0.25  # at most one frame per contest this often, as the service's own hub
    resync_seconds: float = 15.0  # every board is read again this often, in case a change's message was lost
    probe_seconds: float = 2.0  # one channel is looked at this often: a restarted fan-out server has lost them
    lease_seconds: float = 5.0  # how long a silent publisher keeps the others out


def channel_url(publish_url: str, slug: str) -> str:
    """Where a board's frame is posted: the fan-out server puts it in every shard of the board's stream."""
    return f"{publish_url}{slug}"


def first_shard_url(publish_url: str, slug: str) -> str:
    """One of the board's channels (`<slug>.0`, which every fan-out server has), to tell whether the server has
    the board: the location that posts to all of them has no single channel to describe."""
    return f"{publish_url}{slug}.0"


def is_news(board: Rendered, published: tuple[int, str] | None) -> bool:
    """A board not yet published, by the hub's rule (`Frame.is_news_to`): a newer version, or the same version with
    other settings (a seal, hidden counts); a sealed board is version 0 whatever the votes, its ETag tells it apart.
    Never an older version (a read from PostgreSQL while Redis is away may be one)."""
    if published is None:
        return True
    return Frame(board.version, b"", board.etag).is_news_to(*published)


class FanoutPublisher:
    def __init__(self, redis: Redis, boards: Boards, sessions: Sessions, http: httpx.AsyncClient,
                 config: FanoutConfig) -> None:
        self._redis = redis
        self._boards = boards
        self._sessions = sessions
        self._http = http
        self._config = config
        self._token = secrets.token_hex(8)
        self._leading = False
        self._valid_until = 0.0  # loop time until which the lease is surely ours (its renewal's send + its TTL)
        self._published: dict[int, tuple[int, str]] = {}  # contest id -> (version, ETag) last published
        self._slugs: dict[int, str] = {}  # contest id -> the channel it was published to (`CHANNELS_KEY`)
        self._channels_known = False  # `_slugs` read from Redis since the lease became ours
        self._dirty: set[int] = set()
        self._pumps: dict[int, asyncio.Task[None]] = {}
        self._last_sent: dict[int, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._resync_now = asyncio.Event()
        self.published = 0  # frames posted since start (a figure for benchmarks and tests)

    @property
    def leading(self) -> bool:
        """Ours for at least another third of the lease: a process that could not renew in time (a stalled loop,
        a busy pool) stops publishing before another may have taken over."""
        return self._leading and self._time_left() > 0

    def _time_left(self) -> float:
        return self._valid_until - self._config.lease_seconds / 3 - asyncio.get_running_loop().time()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._hold_lease(), name="fanout-lease"),
                       asyncio.create_task(self._resync_loop(), name="fanout-resync")]

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._pumps.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._leading:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.eval(_RELEASE, 1, LEASE_KEY, self._token)  # let the next one take over now

    def notify(self, contest_id: int) -> None:
        """A contest's board changed (the hub's Redis subscriber calls this): publish it if we lead."""
        if not self.leading:
            return
        self._dirty.add(contest_id)
        if contest_id not in self._pumps:
            self._pumps[contest_id] = asyncio.create_task(self._pump(contest_id), name=f"fanout-{contest_id}")

    async def _hold_lease(self) -> None:
        """Take the lease when free, keep it while held; lead from the moment it is ours."""
        ttl = self._config.lease_seconds
        loop = asyncio.get_running_loop()
        while True:
            sent = loop.time()
            lapsed = self._leading and self._time_left() <= 0  # changes told meanwhile were let go
            try:
                answer = int(await answer_within(
                    ttl / 3, self._redis.eval(_TAKE, 1, LEASE_KEY, self._token, int(ttl * 1000))))
                self._leading = answer > 0
                if self._leading:
                    self._valid_until = sent + ttl
                if answer == 2:
                    self._published.clear()  # what the last holder sent is unknown: send everything again
                    self._channels_known = False
                elif answer == 0:  # another process leads: what it publishes and withdraws is in Redis
                    self._slugs.clear()
                    self._channels_known = False
                if self._leading and not self._channels_known:
                    await answer_within(ttl / 3, self._know_channels())
                    self._resync_now.set()
                if answer == 2 or (answer == 1 and lapsed):
                    self._resync_now.set()
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("fan-out lease: Redis unavailable (%s)", exc)
                self._leading = False
            await asyncio.sleep(ttl / 3)

    async def _know_channels(self) -> None:
        """Redis's list merged with ours (a board published since the lease became ours), and written back whole:
        a note that failed meanwhile is kept for the next leader too."""
        kept = await self._redis.hgetall(CHANNELS_KEY)
        self._slugs = {**{int(contest_id): slug.decode() if isinstance(slug, bytes) else slug
                          for contest_id, slug in kept.items()}, **self._slugs}
        if self._slugs:
            await self._redis.hset(CHANNELS_KEY, mapping={str(key): slug for key, slug in self._slugs.items()})
        self._channels_known = True

    async def _resync_loop(self) -> None:
        """Apart from the lease's loop, so that a slow fan-out server never delays the lease's renewal. Every few
        seconds one channel is looked at: a restarted server has lost them all, and its viewers get 403 (then
        poll the web processes) until every board is published again."""
        loop = asyncio.get_running_loop()
        next_full = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await answer_within(self._config.probe_seconds, self._resync_now.wait())
            asked, self._resync_now = self._resync_now.is_set(), asyncio.Event()
            if not self.leading:
                continue
            try:
                if asked or loop.time() >= next_full or await self._server_restarted():
                    next_full = loop.time() + self._config.resync_seconds
                    await self._resync()
            except Exception:  # the fan-out server or PostgreSQL away: the next pass tries again
                log.exception("fan-out: could not read the boards again")

    async def _server_restarted(self) -> bool:
        known = next(iter(self._slugs.values()), None)
        return known is not None and await self._channel_missing(known)

    async def _resync(self) -> None:
        """Every public board once more: published if it changed, or if the fan-out server lost its channel
        (it was restarted, and keeps its buffers in memory)."""
        try:
            async with autocommit(self._sessions) as session:
                rows = (await session.execute(
                    select(Contest.id, Contest.slug).where(Contest.status.in_(PUBLIC_STATUSES)))).all()
        except Exception:
            log.exception("fan-out: could not list the public contests")
            return
        public = {contest_id for contest_id, _ in rows}
        for contest_id in [known for known in self._slugs if known not in public]:
            try:
                await self._withdraw(contest_id)
            except httpx.HTTPError as exc:  # tried again at the next pass
                log.warning("fan-out: could not withdraw the board of contest %s (%s)", contest_id, exc)
        for contest_id, slug in rows:
            if self._slugs.get(contest_id) == slug and not await self._channel_missing(slug):
                self.notify(contest_id)  # published only if it changed
            else:
                self._published.pop(contest_id, None)
                self.notify(contest_id)

    async def _channel_missing(self, slug: str) -> bool:
        try:
            response = await self._http.get(first_shard_url(self._config.publish_url, slug),
                                            headers={"Accept": "application/json", HEADER: self._config.secret},
                                            timeout=REQUEST_SECONDS)
        except httpx.HTTPError:
            return False  # cannot tell: publishing to it fails too, and is tried again with the next change
        return response.status_code == 404

    async def _pump(self, contest_id: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while contest_id in self._dirty and self.leading:
                await asyncio.sleep(flush_delay(loop.time(), self._last_sent.get(contest_id),
                                                self._config.coalesce_seconds))
                self._dirty.discard(contest_id)
                self._last_sent[contest_id] = loop.time()
                try:
                    await self._publish(contest_id)
                except Exception:  # the server, Redis or PostgreSQL away: the next change or resync tries again
                    log.exception("fan-out: could not publish the board of contest %s", contest_id)
        finally:
            self._pumps.pop(contest_id, None)

    async def _publish(self, contest_id: int) -> None:
        # Read afresh, not from the boards' short cache: a process that has just taken over must not publish a
        # copy of the contest from before its seal after the sealed board the last holder sent.
        contest = await load_contest_view(self._sessions, contest_id=contest_id)
        if contest is None:
            await self._withdraw(contest_id)
            return
        board = await self._boards.render_now(contest)
        if not is_news(board, self._published.get(contest_id)):
            return
        if await self._post(contest.slug, board.body, EVENT_NAME):
            self._published[contest_id] = (board.version, board.etag)
            if self._slugs.get(contest_id) != contest.slug:
                self._slugs[contest_id] = contest.slug
                await self._note_channel(contest_id, contest.slug)

    async def _withdraw(self, contest_id: int) -> None:
        """The board of a contest published before and no longer public, withdrawn from its channel; published
        again in full if the contest becomes public again."""
        slug = self._slugs.get(contest_id)
        if slug is not None and await self._post(slug, WITHDRAWN_BODY, WITHDRAWN_EVENT):
            self._slugs.pop(contest_id, None)  # a resync's pass and a change's pump may both withdraw it
            self._published.pop(contest_id, None)
            await self._note_channel(contest_id, None)

    async def _note_channel(self, contest_id: int, slug: str | None) -> None:
        """For whoever leads next (`CHANNELS_KEY`); this process knows it already, so Redis away costs only a
        board a later leader would not know to withdraw."""
        try:
            if slug is None:
                await self._redis.hdel(CHANNELS_KEY, str(contest_id))
            else:
                await self._redis.hset(CHANNELS_KEY, str(contest_id), slug)
        except (RedisError, OSError) as exc:
            log.warning("fan-out: could not note the channel of contest %s (%s)", contest_id, exc)
            self._channels_known = False  # the lease's next renewal writes the whole list again

    async def _post(self, slug: str, body: bytes, event: str) -> bool:
        """One frame to a channel, while the lease is surely ours (the request's time-out within it)."""
        time_left = self._time_left()
        if not self._leading or time_left <= 0:
            return False
        response = await self._http.post(
            channel_url(self._config.publish_url, slug), content=body,
            headers={"Content-Type": "application/json", "X-EventSource-Event": event, HEADER: self._config.secret},
            timeout=min(REQUEST_SECONDS, time_left))
        response.raise_for_status()
        self.published += 1
        return True
