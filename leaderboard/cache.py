"""Tallies cached in Redis: a sorted set and a version per contest, rebuilt from PostgreSQL.

Per contest:
  leaderboard:{id}:votes          sorted set, candidate id -> votes (the live tallies)
  leaderboard:{id}:board          hash: version, updated_ms, and the PostgreSQL snapshot mark they came from
  leaderboard:{id}:version        the newest version handed out for the contest (live or frozen)
  leaderboard:{id}:frozen:{ms}    JSON tallies as of the organiser's freeze moment (epoch ms)
  db{n}:leaderboard:{id}:changed  pub/sub channel, carries the new version (pub/sub is one namespace for
                                  the whole Redis server: the DB number keeps deployments, and test
                                  processes, that share a server from hearing each other's contests)

Versions come from Redis's clock: max(previous + 1, now in ms). They keep increasing after a FLUSHDB or
a Redis restart (the clock has moved on), so a viewer holding an old `Last-Event-ID` still gets newer boards.

Refreshes need no lock: each carries the PostgreSQL snapshot it read (xmax, number of transactions still
in progress) and Redis refuses one that is not newer than what it already holds, so two workers racing can
never leave an older board on top, nor announce the same board twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis
from redis.typing import ZSetScoredMembers
from sqlalchemy import text

from gateway.db.engine import Sessions, autocommit
from gateway.kit.contest_channels import ContestChannels
from leaderboard.board import Tallies

REBUILD_LOCK_MS = 5000  # one process rebuilds a missing board; the others wait for it this long at most
REBUILD_POLL_SECONDS = 0.02
FROZEN_TTL_SECONDS = 90 * 86400
FREEZE_SETTLE = timedelta(seconds=10)  # the freeze snapshot is final this long after the freeze moment
PROVISIONAL_TTL_SECONDS = 3600

# The live tallies, the snapshot they were read at and when (ARGV[5]: `SnapshotMark.taken_ms`, the board's
# `updated_ms`). A snapshot that is not newer is refused: an older one would put an older board
# on top, an equal one saw the same commits (same board, no new frame).
_REFRESH = """
local xmax, nxip, force = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local held = redis.call('HMGET', KEYS[2], 'version', 'xmax', 'nxip')
if not force and held[1] and held[2] then
  local hxmax, hnxip = tonumber(held[2]), tonumber(held[3])
  if xmax < hxmax or (xmax == hxmax and nxip >= hnxip) then return held[1] end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local version = string.format('%.0f', math.max(tonumber(redis.call('GET', KEYS[3]) or '0') + 1, now))
redis.call('DEL', KEYS[1])
for i = 6, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[2], 'version', version, 'updated_ms', ARGV[5], 'xmax', ARGV[2], 'nxip', ARGV[3])
redis.call('SET', KEYS[3], version)
redis.call('PUBLISH', ARGV[1], version)
return version
"""

# A new version for what is already there (the live board after an unfreeze, a benchmark's change).
_TOUCH = """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local version = string.format('%.0f', math.max(tonumber(redis.call('GET', KEYS[3]) or '0') + 1, now))
redis.call('HSET', KEYS[2], 'version', version)
redis.call('SET', KEYS[3], version)
redis.call('PUBLISH', ARGV[1], version)
return version
"""

# A provisional freeze snapshot, kept only if read at a newer PostgreSQL snapshot than the one held (as
# _REFRESH does for live boards), and under a new version only if its votes differ: reads finishing
# out of order can never put fewer votes on top, nor hand the same board two versions.
_PROVISIONAL = """
local xmax, nxip = tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'version', 'votes', 'xmax', 'nxip', 'updated_ms')
if held[1] then
  local hxmax, hnxip = tonumber(held[3]), tonumber(held[4])
  if held[2] == ARGV[1] or xmax < hxmax or (xmax == hxmax and nxip >= hnxip) then
    return {held[1], held[2], held[5]}
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local version = string.format('%.0f', math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, now))
redis.call('SET', KEYS[2], version)
redis.call('HSET', KEYS[1], 'version', version, 'votes', ARGV[1], 'xmax', ARGV[2], 'nxip', ARGV[3],
           'updated_ms', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {version, ARGV[1], ARGV[4]}
"""

# A show in rounds: the rounds whose votes its board shows (the open one and, while it carries the counts, the one
# before; gateway.core.results.round_figures.counted_rounds), whose free votes its board shows too (the board starts a
# round from the paid tallies it opened with: gateway.core.contests.round_rules.round_figures).
_SHOWN_ROUNDS = """
WITH RECURSIVE shown AS (
    SELECT r.id, r.number, r.carry_counts FROM contest_rounds r
    JOIN contests c ON c.current_round_id = r.id WHERE c.id = :contest_id
  UNION ALL
    SELECT p.id, p.number, p.carry_counts FROM shown s
    JOIN contest_rounds p ON p.contest_id = :contest_id AND p.number = s.number - 1 WHERE s.carry_counts)
"""
# Free votes of the board: a contest's all (its free tallies), a show in rounds' those of the rounds it shows.
_FREE_SHOWN = """
CASE WHEN (SELECT current_round_id FROM contests WHERE id = :contest_id) IS NULL
     THEN (SELECT json_object_agg(candidate_id, votes) FROM free_tallies WHERE contest_id = :contest_id)
     ELSE (SELECT json_object_agg(candidate_id, taken) FROM (
             SELECT candidate_id, count(*) AS taken FROM free_votes
             WHERE contest_id = :contest_id AND round_id IN (SELECT id FROM shown) GROUP BY candidate_id) AS free)
END"""

# When a statement's snapshot was taken (its start), epoch milliseconds.
_TAKEN_MS = "(extract(epoch FROM statement_timestamp()) * 1000)::bigint"
# Tallies and the snapshot they were read at, in one statement (so one snapshot); the free votes beside them, with
# the contest's weight of a free vote (gateway.core.orders.free_votes).
_TALLIES_SQL = text(_SHOWN_ROUNDS + """
SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax,
       (SELECT count(*) FROM pg_snapshot_xip(pg_current_snapshot())) AS nxip,
       """ + _TAKEN_MS + """ AS taken_ms,
       COALESCE((SELECT json_object_agg(candidate_id, votes) FROM tallies WHERE contest_id = :contest_id),
                '{}'::json)::text AS votes,
       COALESCE(""" + _FREE_SHOWN + """, '{}'::json)::text AS free,
       (SELECT free_vote_weight FROM contests WHERE id = :contest_id) AS free_weight
""")
FREE_MEMBER = "free:"  # a candidate's free votes shown apart, in the board's sorted set beside its figure


_PAID_UNTIL_SQL = text(_SHOWN_ROUNDS + """
SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax,
       (SELECT count(*) FROM pg_snapshot_xip(pg_current_snapshot())) AS nxip,
       """ + _TAKEN_MS + """ AS taken_ms,
       COALESCE((SELECT json_object_agg(candidate_id, total) FROM (
                   SELECT candidate_id, sum(quantity) AS total FROM (
                     SELECT candidate_id, quantity FROM vote_orders
                     WHERE contest_id = :contest_id AND status = 'paid' AND decided_at <= :moment
                       AND candidate_id IS NOT NULL  -- an entry's fee buys no vote
                     UNION ALL  -- free votes, where the organiser counts them on the board
                     SELECT candidate_id, 1 FROM free_votes
                     WHERE contest_id = :contest_id AND created_at <= :moment
                       AND (round_id IN (SELECT id FROM shown) OR NOT EXISTS (SELECT FROM shown))
                       AND (SELECT free_vote_weight FROM contests WHERE id = :contest_id) = 'counted') AS votes
                   GROUP BY candidate_id) AS paid),
                '{}'::json)::text AS votes,
       COALESCE((SELECT json_object_agg(candidate_id, taken) FROM (  -- free votes shown apart, as of the moment
                   SELECT candidate_id, count(*) AS taken FROM free_votes
                   WHERE contest_id = :contest_id AND created_at <= :moment
                     AND (round_id IN (SELECT id FROM shown) OR NOT EXISTS (SELECT FROM shown))
                     AND (SELECT free_vote_weight FROM contests WHERE id = :contest_id) = 'apart'
                   GROUP BY candidate_id) AS free),
                '{}'::json)::text AS free
""")


def votes_key(contest_id: int) -> str:
    return f"leaderboard:{contest_id}:votes"


def board_key(contest_id: int) -> str:
    return f"leaderboard:{contest_id}:board"


def version_key(contest_id: int) -> str:
    return f"leaderboard:{contest_id}:version"


def frozen_key(contest_id: int, frozen_at: datetime) -> str:
    return f"leaderboard:{contest_id}:frozen:{int(frozen_at.timestamp() * 1000)}"


def rebuild_lock_key(contest_id: int) -> str:
    return f"leaderboard:{contest_id}:rebuilding"


# Where a board's change is said: `db0:leaderboard:42:changed`.
BOARD_CHANNELS = ContestChannels("leaderboard", "changed")
channel_name, channel_pattern, contest_from_channel = (BOARD_CHANNELS.name, BOARD_CHANNELS.pattern,
                                                       BOARD_CHANNELS.contest_of)


@dataclass(frozen=True, slots=True)
class SnapshotMark:
    """Where a PostgreSQL snapshot stands: a later snapshot has a higher xmax, or the same xmax and fewer
    transactions still in progress. A snapshot with a lower mark cannot have seen more commits. And when it was
    taken (epoch ms, by PostgreSQL's clock, as the orders' `decided_at`): the tallies read in it hold every vote
    committed before then, so it is their board's `updated_at`, not the later moment they reached Redis (a read
    and its store take a busy web process up to a second or more, and a board that claimed the votes counted
    meanwhile made its viewers' figures look earlier than they were)."""

    xmax: int
    in_progress: int
    taken_ms: int


async def read_tallies(sessions: Sessions, contest_id: int) -> tuple[dict[int, int], SnapshotMark]:
    votes, _, mark = await read_figures(sessions, contest_id)
    return votes, mark


async def read_figures(sessions: Sessions, contest_id: int) -> tuple[dict[int, int], dict[int, int], SnapshotMark]:
    """The board's figures (the paid votes, plus the free ones where the organiser counts them) and the free votes
    shown apart (none where they are counted), at one snapshot."""
    async with autocommit(sessions) as session:
        row = (await session.execute(_TALLIES_SQL, {"contest_id": contest_id})).one()
    votes = {int(candidate_id): int(count) for candidate_id, count in json.loads(row.votes).items()}
    free = {int(candidate_id): int(count) for candidate_id, count in json.loads(row.free).items()}
    if row.free_weight == "counted":
        for candidate_id, count in free.items():
            votes[candidate_id] = votes.get(candidate_id, 0) + count
        free = {}
    return votes, free, SnapshotMark(int(row.xmax), int(row.nxip), int(row.taken_ms))


def split_members(pairs: Iterable[Sequence[Any]]) -> tuple[dict[int, int], dict[int, int]]:
    """The sorted set's members: the candidates' figures, and their free votes shown apart."""
    votes: dict[int, int] = {}
    free: dict[int, int] = {}
    for member, score in pairs:
        name = member.decode() if isinstance(member, bytes) else member
        if name.startswith(FREE_MEMBER):
            free[int(name.removeprefix(FREE_MEMBER))] = int(score)
        else:
            votes[int(name)] = int(score)
    return votes, free


async def store_tallies(redis: Redis, contest_id: int, votes: dict[int, int], mark: SnapshotMark,
                        *, force: bool = False, free: dict[int, int] | None = None) -> int:
    """Replace the live tallies under a new version and publish it, unless Redis already holds a newer read.

    Returns the version Redis now holds. `force` ignores the order (after restoring PostgreSQL from a backup).
    """
    pairs: list[int | str] = [value for candidate_id, count in votes.items() for value in (count, candidate_id)]
    pairs += [value for candidate_id, count in (free or {}).items()
              for value in (count, f"{FREE_MEMBER}{candidate_id}")]
    keys = [votes_key(contest_id), board_key(contest_id), version_key(contest_id)]
    args = [channel_name(redis, contest_id), mark.xmax, mark.in_progress, "1" if force else "0", mark.taken_ms, *pairs]
    return int(await redis.eval(_REFRESH, len(keys), *keys, *args))


async def refresh_contest(sessions: Sessions, redis: Redis, contest_id: int, *, force: bool = False) -> int:
    """Copy a contest's tallies from PostgreSQL to Redis under a new version and tell every web process.

    Absolute values, not increments: running it twice, or out of order, leaves the cache right.
    """
    votes, free, mark = await read_figures(sessions, contest_id)
    return await store_tallies(redis, contest_id, votes, mark, force=force, free=free)


async def touch(redis: Redis, contest_id: int) -> int | None:
    """Announce the cached live board again under a new version; None if Redis holds no board for it."""
    keys = [votes_key(contest_id), board_key(contest_id), version_key(contest_id)]
    version = await redis.eval(_TOUCH, len(keys), *keys, channel_name(redis, contest_id))
    return int(version) if version is not None else None


async def cached_votes(redis: Redis, contest_id: int) -> dict[int, int]:
    # withscores=True answers (member, score) pairs; redis-py types the answers with and without scores as one.
    pairs = cast(ZSetScoredMembers, await redis.zrange(votes_key(contest_id), 0, -1, withscores=True))
    return split_members(pairs)[0]


@dataclass(frozen=True, slots=True)
class LiveRead:
    tallies: Tallies
    newest_version: int  # the contest's newest version; above tallies.version after a frozen snapshot


async def read_live(redis: Redis, contest_id: int) -> LiveRead | None:
    """The live tallies in one atomic read, or None when Redis has no board for the contest."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hmget(board_key(contest_id), "version", "updated_ms")
        pipe.zrange(votes_key(contest_id), 0, -1, withscores=True)
        pipe.get(version_key(contest_id))
        (version, updated_ms), pairs, newest = await pipe.execute()
    if version is None:
        return None
    votes, free = split_members(pairs)
    tallies = Tallies(int(version), int(updated_ms or 0), votes, free)
    return LiveRead(tallies, max(int(newest or 0), tallies.version))


async def live_tallies(sessions: Sessions, redis: Redis, contest_id: int) -> Tallies:
    """The live tallies; a board missing from Redis (flushed, restarted) is rebuilt from PostgreSQL once."""
    read = await read_live(redis, contest_id)
    if read is None:
        read = await _rebuild_missing(sessions, redis, contest_id)
    if read.newest_version > read.tallies.version:
        # A frozen snapshot was shown after this board: re-announce it so viewers come back to live.
        await touch(redis, contest_id)
        read = await read_live(redis, contest_id) or read
    return read.tallies


async def _rebuild_missing(sessions: Sessions, redis: Redis, contest_id: int) -> LiveRead:
    """A short lock so a thundering herd of readers rebuilds once; the others wait for the result."""
    if await redis.set(rebuild_lock_key(contest_id), "1", nx=True, px=REBUILD_LOCK_MS):
        try:
            await refresh_contest(sessions, redis, contest_id)
        finally:
            await redis.delete(rebuild_lock_key(contest_id))
    else:
        for _ in range(int(REBUILD_LOCK_MS / 1000 / REBUILD_POLL_SECONDS)):
            await asyncio.sleep(REBUILD_POLL_SECONDS)
            if (read := await read_live(redis, contest_id)) is not None:
                return read
        await refresh_contest(sessions, redis, contest_id)  # the rebuilder died: do it ourselves
    read = await read_live(redis, contest_id)
    if read is None:
        raise RuntimeError(f"the board of contest {contest_id} vanished from Redis while being rebuilt")
    return read


def provisional_key(frozen: str) -> str:
    """A hash (by PostgreSQL snapshot); named anew, since before it a string stood at `…:provisional`."""
    return f"{frozen}:provisional-snapshot"


async def frozen_tallies(sessions: Sessions, redis: Redis, contest_id: int, frozen_at: datetime,
                         now: datetime) -> Tallies:
    """The tallies as of the freeze moment, counted from the orders (paid, decided by `frozen_at`).

    A confirmation is stamped when its statement starts: one waiting on the tally row across the
    freeze commits just after it. So for FREEZE_SETTLE the snapshot is provisional (re-counted at
    each read, under a new version only when it changed); after that it is final, kept in Redis,
    the first writer wins and everybody serves the same version.
    """
    key = frozen_key(contest_id, frozen_at)
    if (raw := await redis.get(key)) is None:
        votes, free, mark = await votes_at(sessions, contest_id, frozen_at)
        # Free votes shown apart ride along as `free:<id>` keys (none where the contest gives none: as before).
        canonical = json.dumps({**{str(k): v for k, v in sorted(votes.items())},
                                **{f"{FREE_MEMBER}{k}": v for k, v in sorted(free.items())}}, separators=(",", ":"))
        version, kept, updated_ms = await redis.eval(
            _PROVISIONAL, 2, provisional_key(key), version_key(contest_id), canonical, mark.xmax,
            mark.in_progress, int(frozen_at.timestamp() * 1000), PROVISIONAL_TTL_SECONDS)
        raw = json.dumps({"version": int(version), "updated_ms": int(updated_ms), "votes": json.loads(kept)})
        if now >= frozen_at + FREEZE_SETTLE:
            await redis.set(key, raw, nx=True, ex=FROZEN_TTL_SECONDS)
            raw = await redis.get(key) or raw
    document = json.loads(raw)
    votes, free = split_members(document["votes"].items())
    return Tallies(int(document["version"]), int(document["updated_ms"]), votes, free)


async def tallies_from_postgres(sessions: Sessions, contest_id: int, frozen_at: datetime | None) -> Tallies:
    """The tallies without Redis, versioned by their total of votes: far below any version Redis
    hands out (its clock in milliseconds, see `_REFRESH`), so a viewer who already holds a board
    from Redis keeps it and every board Redis serves once back wins; it still grows as votes are
    counted, so pollers (ETag) and new viewers see the progress in the meantime."""
    if frozen_at is not None:
        frozen_votes, frozen_free, _ = await votes_at(sessions, contest_id, frozen_at)
        return Tallies(sum(frozen_votes.values()) + sum(frozen_free.values()), int(frozen_at.timestamp() * 1000),
                       frozen_votes, frozen_free)
    votes, free, mark = await read_figures(sessions, contest_id)
    return Tallies(sum(votes.values()) + sum(free.values()), mark.taken_ms, votes, free)


async def paid_votes_at(sessions: Sessions, contest_id: int, moment: datetime,
                        ) -> tuple[dict[int, int], SnapshotMark]:
    """Votes of the orders paid by `moment`, and the PostgreSQL snapshot they were counted at."""
    votes, _, mark = await votes_at(sessions, contest_id, moment)
    return votes, mark


async def votes_at(sessions: Sessions, contest_id: int, moment: datetime,
                   ) -> tuple[dict[int, int], dict[int, int], SnapshotMark]:
    """The board's figures as of `moment` (paid orders, and free votes where they are counted), the free votes shown
    apart as of then, and the PostgreSQL snapshot they were counted at."""
    async with autocommit(sessions) as session:
        row = (await session.execute(_PAID_UNTIL_SQL, {"contest_id": contest_id, "moment": moment})).one()
    votes = {int(candidate_id): int(count) for candidate_id, count in json.loads(row.votes).items()}
    free = {int(candidate_id): int(count) for candidate_id, count in json.loads(row.free).items()}
    return votes, free, SnapshotMark(int(row.xmax), int(row.nxip), int(row.taken_ms))


async def forget_frozen(redis: Redis, contest_id: int) -> int:
    """Drop a contest's frozen snapshots (they are recomputed from PostgreSQL on the next read)."""
    keys = [key async for key in redis.scan_iter(match=f"leaderboard:{contest_id}:frozen:*", count=100)]
    return int(await redis.delete(*keys)) if keys else 0
