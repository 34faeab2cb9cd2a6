"""Calls kept under a rate, across every process and host: each call reserves the next free turn on a schedule
kept in Redis (timed by Redis's own clock, so hosts' clocks do not matter) and waits for it, so calls leave
evenly spaced, in the order they asked. A provider's cap is kept this way wherever it is one (MTN's status calls,
`gateway.kit.status_pacing`; every call of an Orange application, `payments.orange.request_cap`); a kind of call
may be held to a share of a schedule's turns (`wait_within_share`), so it never takes them all, or take only the turns
no other call asks for (`wait_for_spare`), so it never delays them. With Redis away, or none given, a process keeps
the schedule alone (others may be calling too: slower is not safe, but it is the best it can do)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
# How many times a caller woken late takes a new turn before it goes anyway (a machine that stalls every turn).
LATE_TURNS_RETAKEN = 3
GONE_OFF_TURN = ("paced turns: calls on %s came late to %d turns in a row (the process is stalling) and went off"
                 " their turns (calls since this was last said: %d)")
REDIS_AWAY = ("paced turns: Redis unavailable, pacing %s in this process only (asks of Redis that failed since this"
              " was last said: %d)")
REDIS_BACK = "paced turns: Redis answers again for %s (asks of Redis that failed since the last line: %d)"
# A warning of either kind is said at most this often for a schedule, with how many it stands for: a process
# stalling, or without Redis, for minutes would otherwise write a line a call, at the provider's cap (25 a second).
# The calls that went off their turns are all in `went_off_turn`; an outage's last asks are told as Redis comes back.
SAID_EVERY_SECONDS = 60.0
# A call waiting for a spare turn looks again this long after the turns held end: a timer may fire a millisecond
# early (the event loop's clock is coarse), and a look that early finds the turn still held.
LOOK_AGAIN_AFTER = 0.002

# Reserve the next turn of a schedule: returns how many ms to wait for it. KEYS[1] holds the next
# free turn (ms, Redis clock); ARGV[1] is the spacing between calls in ms.
RESERVE_TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], slot + tonumber(ARGV[1]), 'PX', slot - now + 60000)
return slot - now
"""
# A spare turn taken a little after it freed keeps the schedule's cadence: the next turn comes a spacing after the
# free one, not after the look that found it (which comes a few ms late: the timer, the round trip, a busy loop), so
# the turns do not drift later one look at a time. Two calls are never nearer than this much of the spacing: a spike
# arrest (Apigee's, in front of Daraja, counts 10 a second as one per 100 ms) refuses calls nearer than its interval,
# and the schedules run at 90% of a cap (`status_pacing.SHARE`): 95% of their spacing is still over the interval.
SHORTEST_GAP = 0.95

# Take the turn now if the schedule is free now (no caller holds a turn still to come): returns 0. Else reserve
# nothing and return minus the ms until the turns held end. KEYS as RESERVE_TURN's; ARGV[1] the spacing in ms,
# ARGV[2] the shortest gap to the next turn in ms.
TAKE_SPARE_TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot > now then return now - slot end
local next_turn = math.max(slot + tonumber(ARGV[1]), now + tonumber(ARGV[2]))
redis.call('SET', KEYS[1], next_turn, 'PX', next_turn - now + 60000)
return 0
"""


class PacedTurns:
    """Turns on named schedules (Redis keys), each spaced for the calls a second its caller allows."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._reserve = redis.register_script(RESERVE_TURN) if redis is not None else None
        self._take_spare = redis.register_script(TAKE_SPARE_TURN) if redis is not None else None
        self._local_next: dict[str, float] = {}  # the schedules kept here when Redis cannot be reached
        self.went_off_turn: Counter[str] = Counter()  # calls by schedule that left off their turns, in this process
        self._unsaid: Counter[tuple[str, str]] = Counter()  # (warning, schedule) -> calls since it was last said
        self._said_at: dict[tuple[str, str], float] = {}
        self._redis_away: set[str] = set()  # schedules whose last ask of Redis failed
        self._spare_lookers: dict[str, asyncio.Lock] = {}  # schedule -> the one call here looking for a spare turn

    async def wait(self, schedule: str, per_second: float) -> float:
        """Return at the next turn of `schedule` at `per_second` calls a second; the seconds it waited.

        A caller woken later than half a turn's spacing after its turn (the process was stalled: a busy CPU, a long
        pause of the loop) takes a new turn rather than go at once: the calls stalled together would otherwise
        leave together, a burst over the cap, which a provider's spike arrest refuses. Lateness counts from when
        the turn was asked for, not from when Redis's answer was read: a stall while answers wait unread would
        otherwise shift every turn they name later, onto turns taken by others meanwhile."""
        spacing = 1.0 / per_second
        waited = 0.0
        for _ in range(LATE_TURNS_RETAKEN + 1):
            waiting, since = await self._reserved(schedule, spacing)
            if waiting > 0:
                await asyncio.sleep(waiting)
                waited += waiting
            if time.monotonic() - (since + waiting) <= spacing / 2:  # a turn is never in the past: waiting >= 0
                break
        else:
            # The one call that may leave off its turn, near another's: said, as an operator would want to know
            # why a provider refused a burst.
            self.went_off_turn[schedule] += 1
            self._say(GONE_OFF_TURN, schedule, LATE_TURNS_RETAKEN + 1)
        return waited

    def _say(self, warning: str, schedule: str, *details: object) -> None:
        """Warn of `schedule` now if not said of it within `SAID_EVERY_SECONDS`, with the calls since the last line;
        else count the call into the next line."""
        key = (warning, schedule)
        self._unsaid[key] += 1
        now = time.monotonic()
        said = self._said_at.get(key)
        if said is None or now - said >= SAID_EVERY_SECONDS:
            log.warning(warning, schedule, *details, self._unsaid.pop(key))
            self._said_at[key] = now

    def _redis_answered(self, schedule: str) -> None:
        """After an outage, said once: with the asks that failed since its last line, and the next outage is said
        at once."""
        if schedule in self._redis_away:
            self._redis_away.discard(schedule)
            self._said_at.pop((REDIS_AWAY, schedule), None)
            log.warning(REDIS_BACK, schedule, self._unsaid.pop((REDIS_AWAY, schedule), 0))

    def _redis_failed(self, schedule: str) -> None:
        self._redis_away.add(schedule)
        self._say(REDIS_AWAY, schedule)

    async def wait_within_share(self, schedule: str, per_second: float, part: str, share: float) -> float:
        """`wait`, for a call of a kind (`part`) that may take at most `share` of `schedule`'s turns, whatever the
        window: it first takes a turn of its part's own schedule, at `share` of the rate, and only then one of the
        whole. However many such calls queue, they reach the whole schedule no faster than that share, so the other
        calls (a payer's prompt among a flood of status enquiries) always find turns there, at most a turn or two
        late."""
        waited = await self.wait(f"{schedule}:{part}", per_second * share)
        return waited + await self.wait(schedule, per_second)

    async def wait_for_spare(self, schedule: str, per_second: float, patience: float) -> float:
        """`wait`, for a call that can wait: it takes only a turn nobody holds, when the schedule is free, so the
        calls that `wait` keep every turn they can use and these have the rest, never delaying them by more than one
        turn. Such calls first queue among themselves (a schedule of their own, at the same rate), so that on a free
        schedule each finds its turn at the first look. After `patience` seconds without a spare turn it queues for
        the next one as `wait` does: delayed while others need every turn, never starved. Returns the seconds it
        waited.

        In a process, one such call at a time looks at the schedule, and it looks again just as the turns held end:
        the others wait their turn here, not in Redis. Many calls looking at random moments found it busy about eight
        times a turn, and the turns they took drifted later, ever further behind their own queue's."""
        spacing = 1.0 / per_second
        started = time.monotonic()
        await self.wait(f"{schedule}:spare", per_second)
        looking = self._spare_lookers.setdefault(schedule, asyncio.Lock())
        try:
            async with asyncio.timeout(max(0.0, patience - (time.monotonic() - started))):
                await looking.acquire()
        except TimeoutError:
            return time.monotonic() - started + await self.wait(schedule, per_second)
        try:
            while (left := patience - (time.monotonic() - started)) > 0:
                busy, asked = await self._spare(schedule, spacing)
                if busy == 0 and time.monotonic() - asked <= spacing / 2:  # taken, and not by a stalled process
                    return time.monotonic() - started
                await asyncio.sleep(min(busy + LOOK_AGAIN_AFTER, left))
        finally:
            looking.release()
        return time.monotonic() - started + await self.wait(schedule, per_second)

    async def _spare(self, schedule: str, spacing: float) -> tuple[float, float]:
        """0 when the schedule's turn now was free and is now taken, else the seconds until the turns held end; and
        the moment (this process's clock) it was asked."""
        if self._take_spare is not None:
            asked = time.monotonic()
            gaps_ms = [max(1, round(spacing * 1000)), max(1, math.ceil(spacing * SHORTEST_GAP * 1000))]
            try:
                busy_ms = await self._take_spare(keys=[schedule], args=gaps_ms)
            except RedisError:
                self._redis_failed(schedule)
            else:
                self._redis_answered(schedule)
                return -float(busy_ms) / 1000, asked
        return self._local_spare(schedule, spacing)

    async def _reserved(self, schedule: str, spacing: float) -> tuple[float, float]:
        """Seconds to wait for the next turn, and the moment (this process's clock) they count from: for a turn
        of Redis's schedule, when it was asked for (Redis reserved it no earlier)."""
        if self._reserve is not None:
            asked = time.monotonic()
            try:
                wait_ms = await self._reserve(keys=[schedule], args=[max(1, round(spacing * 1000))])
            except RedisError:
                self._redis_failed(schedule)
            else:
                self._redis_answered(schedule)
                return float(wait_ms) / 1000, asked
        return self._local_turn(schedule, spacing)

    def _local_turn(self, schedule: str, spacing: float) -> tuple[float, float]:
        """Seconds until this process's own next turn of `schedule`, and now."""
        now = time.monotonic()
        turn = max(now, self._local_next.get(schedule, now))
        self._local_next[schedule] = turn + spacing
        return turn - now, now

    def _local_spare(self, schedule: str, spacing: float) -> tuple[float, float]:
        """`_spare` on this process's own schedule."""
        now = time.monotonic()
        turn = self._local_next.get(schedule, now)
        if turn > now:
            return turn - now, now
        self._local_next[schedule] = max(turn + spacing, now + spacing * SHORTEST_GAP)
        return 0.0, now
