"""One process's fan-out: one Redis subscriber, coalesced frames per contest, a bounded queue per viewer.

A viewer whose queue is full is cut off, never waited for: one slow phone must not hold back the board
for everybody else. Its browser reconnects (`retry:`) and gets the current board at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.core.errors import DomainError, RateLimited
from gateway.kit import overlay_cue
from gateway.kit.time_limits import answer_within
from leaderboard import cache, sse
from leaderboard.board import Rendered
from leaderboard.boards import Boards
from leaderboard.config import StreamConfig

log = logging.getLogger(__name__)
SUBSCRIBE_WAIT_SECONDS = 5.0
MAX_RECONNECT_DELAY = 5.0


class StreamsClosing(DomainError):
    status = 503
    code = "shutting_down"


@dataclass(frozen=True, slots=True)
class Frame:
    version: int  # 0 for comments (heartbeats), which are never deduplicated
    data: bytes
    etag: str = ""  # the board's ETag: a new one at the same version is a change of settings, not of votes

    def is_news_to(self, version: int, etag: str) -> bool:
        """Whether a viewer showing (version, etag) lacks this frame. A sealed board is version 0 (its
        version would count votes) yet news to a viewer of the board before it was sealed."""
        if self.version == 0 and self.etag:
            return self.etag != etag
        return self.version > version or (self.version == version and self.etag != etag)


PING = Frame(0, sse.PING)


def board_frame(board: Rendered) -> Frame:
    return Frame(board.version, sse.event_frame("leaderboard", board.body, board.version), board.etag)


def reuse_newest(newest: Frame, board: Rendered) -> bool:
    """Whether a new viewer gets the newest frame sent rather than its own read: the same board, or a newer one
    (its read may have started before a change). Not when its read is version 0, a sealed board (or one with no
    vote yet): a "newer" frame from before the seal would show the counts the seal hides."""
    return newest.etag == board.etag or (board.version > 0 and newest.version > board.version)


def flush_delay(now: float, last_sent: float | None, interval: float) -> float:
    """Coalescing: the first change after a quiet spell goes out at once, later ones wait for the interval."""
    if last_sent is None:
        return 0.0
    return max(0.0, last_sent + interval - now)


class Viewer:
    """One open stream: its queue, and its connection so that it can be cut off."""

    __slots__ = ("contest_id", "ip", "queue", "transport", "latest", "latest_etag", "closed")

    def __init__(self, contest_id: int, ip: str, transport: asyncio.Transport | None, queue_size: int) -> None:
        self.contest_id = contest_id
        self.ip = ip
        self.queue: asyncio.Queue[Frame | None] = asyncio.Queue(queue_size)
        self.transport = transport
        self.latest = 0  # the newest board version queued or written for this viewer
        self.latest_etag = ""  # and its ETag ("" when the viewer already had that version on connecting)
        self.closed = False

    def gone(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def end(self) -> None:
        """Ask the stream handler to finish; frames not yet written are discarded."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Hub:
    def __init__(self, redis: Redis, boards: Boards, config: StreamConfig) -> None:
        self._redis = redis
        self._boards = boards
        self._config = config
        self._viewers: dict[int, set[Viewer]] = {}
        self._by_ip: dict[str, set[Viewer]] = {}
        self._dirty: set[int] = set()
        self._pumps: dict[int, asyncio.Task[None]] = {}
        self._last_sent: dict[int, float] = {}
        self._newest: dict[int, Frame] = {}  # the newest frame sent per watched contest
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._closing = False
        self.followers: list[Callable[[int], None]] = []  # also told of each change (the fan-out publisher)
        self.dropped = 0  # viewers cut off for being too slow, since start

    @property
    def viewer_count(self) -> int:
        return sum(len(viewers) for viewers in self._viewers.values())

    async def start(self) -> None:
        """Subscribe before the process serves, so that no change after the first frame is missed."""
        self._tasks = [asyncio.create_task(self._listen(), name="leaderboard-subscriber"),
                       asyncio.create_task(self._heartbeat(), name="leaderboard-heartbeat")]
        with contextlib.suppress(TimeoutError):
            await answer_within(SUBSCRIBE_WAIT_SECONDS, self._subscribed.wait())

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._pumps.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def watch(self, contest_id: int, ip: str, transport: asyncio.Transport | None) -> Viewer:
        """Register a viewer before its first frame is read, so a change in between still reaches it."""
        if self._closing:
            raise StreamsClosing("This server is restarting; reconnect in a moment.")
        same_ip = self._by_ip.get(ip, set())
        if len(same_ip) >= self._config.streams_per_ip:
            for viewer in [v for v in same_ip if v.gone()]:
                self._drop(viewer)
            if len(same_ip) >= self._config.streams_per_ip:
                raise RateLimited("Too many live boards are open from your address; close some and try again.")
        viewer = Viewer(contest_id, ip, transport, self._config.queue_size)
        self._viewers.setdefault(contest_id, set()).add(viewer)
        self._by_ip.setdefault(ip, set()).add(viewer)
        return viewer

    def leave(self, viewer: Viewer) -> None:
        viewer.closed = True
        viewers = self._viewers.get(viewer.contest_id)
        if viewers is not None:
            viewers.discard(viewer)
            if not viewers:
                del self._viewers[viewer.contest_id]
                self._last_sent.pop(viewer.contest_id, None)
                self._newest.pop(viewer.contest_id, None)
        same_ip = self._by_ip.get(viewer.ip)
        if same_ip is not None:
            same_ip.discard(viewer)
            if not same_ip:
                del self._by_ip[viewer.ip]

    def first_frame(self, contest_id: int, board: Rendered) -> Frame:
        """A new viewer's first frame: its own read, unless a newer frame went out before it registered
        (a read shared with others may have started before a change). Encoded once per version."""
        newest = self._newest.get(contest_id)
        if newest is not None and reuse_newest(newest, board):
            return newest  # newer, or the same board: one encoded frame shared by every viewer
        frame = board_frame(board)
        if contest_id in self._viewers:
            self._newest[contest_id] = frame
        return frame

    def notify(self, contest_id: int) -> None:
        """A contest's board changed: schedule a frame for its viewers in this process, if any."""
        if contest_id not in self._viewers or self._closing:
            return
        self._dirty.add(contest_id)
        if contest_id not in self._pumps:
            self._pumps[contest_id] = asyncio.create_task(self._pump(contest_id), name=f"leaderboard-{contest_id}")

    async def close_all(self) -> None:
        """Shutdown: end every stream cleanly; cut off the ones still stuck writing after the grace period."""
        self._closing = True
        viewers = [viewer for group in self._viewers.values() for viewer in group]
        for viewer in viewers:
            viewer.end()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.shutdown_grace_seconds
        while self._viewers and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for viewer in [viewer for group in self._viewers.values() for viewer in group]:
            self._drop(viewer)

    async def _pump(self, contest_id: int) -> None:
        """At most one frame per interval per contest; the last one is read after the last change."""
        loop = asyncio.get_running_loop()
        try:
            while contest_id in self._dirty and contest_id in self._viewers:
                interval = self._config.coalesce_seconds
                await asyncio.sleep(flush_delay(loop.time(), self._last_sent.get(contest_id), interval))
                self._dirty.discard(contest_id)
                self._last_sent[contest_id] = changes_seen = loop.time()
                try:
                    frame = await self._frame(contest_id, changes_seen)
                except Exception:  # Redis or PostgreSQL away: the next change (or heartbeat) tries again
                    log.exception("could not read the board of contest %s", contest_id)
                    continue
                if frame is not None:
                    self._broadcast(contest_id, frame)
        finally:
            self._pumps.pop(contest_id, None)

    async def _frame(self, contest_id: int, changes_seen: float) -> Frame | None:
        """The board as of now: a read some viewer or poller began before `changes_seen` may predate them."""
        contest = await self._boards.contest_by_id(contest_id)
        if contest is None:
            return None
        return board_frame(await self._boards.render(contest, not_before=changes_seen))

    def _broadcast(self, contest_id: int, frame: Frame) -> None:
        newest = self._newest.get(contest_id)
        if newest is None or frame.is_news_to(newest.version, newest.etag):
            self._newest[contest_id] = frame
        for viewer in list(self._viewers.get(contest_id, ())):
            if frame.is_news_to(viewer.latest, viewer.latest_etag):
                viewer.latest, viewer.latest_etag = frame.version, frame.etag
                self._offer(viewer, frame)

    def _offer(self, viewer: Viewer, frame: Frame) -> None:
        try:
            viewer.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1
            log.debug("dropping a viewer of contest %s that cannot keep up", viewer.contest_id)
            self._drop(viewer)

    def _drop(self, viewer: Viewer) -> None:
        """Cut a viewer off now: wake its handler if it waits for a frame, abort the write if it is stuck."""
        self.leave(viewer)
        with contextlib.suppress(asyncio.QueueFull):
            viewer.queue.put_nowait(None)
        if viewer.transport is not None:
            viewer.transport.abort()

    async def _listen(self) -> None:
        """The process's one subscriber; after a lost connection it resubscribes and re-reads every board."""
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                # The boards' changes, and the overlay's cues (a board carries its contest's: sent again).
                await pubsub.psubscribe(cache.channel_pattern(self._redis), overlay_cue.channel_pattern(self._redis))
                self._subscribed.set()
                self._resync()
                delay = 0.1
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        channel = message["channel"]
                        contest_id = cache.contest_from_channel(channel)
                        if contest_id is None:
                            contest_id = overlay_cue.contest_from_channel(channel)
                            if contest_id is not None:  # the producer's word: the contest's settings read afresh
                                self._boards.forget(contest_id)
                        if contest_id is not None:
                            self.notify(contest_id)
                            for follower in self.followers:
                                follower(contest_id)
            except (RedisError, OSError) as exc:
                log.warning("leaderboard subscriber lost Redis (%s); retrying in %.1fs", exc, delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub's unannotated
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RECONNECT_DELAY)

    async def _heartbeat(self) -> None:
        """One timer for all viewers: a ping each, and a re-read of each board in case a message was lost."""
        while True:
            await asyncio.sleep(self._config.heartbeat_seconds)
            for viewer in [viewer for group in self._viewers.values() for viewer in group]:
                if viewer.gone():
                    self._drop(viewer)
                else:
                    self._offer(viewer, PING)
            self._resync()

    def _resync(self) -> None:
        for contest_id in list(self._viewers):
            self.notify(contest_id)
