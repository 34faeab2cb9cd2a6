"""The faults the alerting scenario injects into a running stack, one at a time, each with the alert it must fire
(or none), how it is undone, and the least time it lasts.

MTN's callbacks lost (the sandbox drops them: only the reconciler's status checks confirm votes); MTN declining every
payment while its API answers 2xx (the sandbox's `decline_share`); Redis frozen for a minute (SIGSTOP: it accepts
connections and answers nothing) and Redis SIGKILLed (started again here: nothing supervises the embedded one); the
worker that runs the periodic jobs SIGKILLed (the supervisor replaces it: no page is right) and then hung (SIGSTOP of
its process group: the supervisor misses its heartbeat, kills and replaces it, and that replacement pages); MTN
answering 429 to half of our requests (the sandbox's `throttle_share`); and a second contest on air in which nobody
votes while the first one takes votes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from assembly.machine.embedded import EmbeddedRedis
from bench.faults.burst import sandbox
from bench.harness import Stack, _processes

SECOND_CONTEST = "second-show"
REDIS_FREEZE_SECONDS = 60.0
# GatewayProcessReplaced is a replacement within the last 15 minutes: an event, firing that long whatever follows.
REPLACEMENT_PAGE_SECONDS = 15 * 60.0


@dataclass
class Fault:
    name: str
    alert: str | None  # the alert it must fire (None: none may page)
    labels: dict[str, str]  # of that alert
    inject: Callable[[], Awaitable[str]]  # returns what was done
    remove: Callable[[], Awaitable[str]]
    lasts: float = 0.0  # the least seconds between injecting and removing it, fired or not
    resolves_within: float = 300.0  # after its removal: the rule's window for an alert on an event


def faults(stack: Stack, restarted: list[EmbeddedRedis]) -> list[Fault]:
    return [
        *provider_faults(stack),
        *redis_faults(stack, restarted),
        *worker_faults(stack),
        Fault("a second contest on air and nobody votes in it", "NoVotesArriving", {"contest": SECOND_CONTEST},
              lambda: second_contest_on_air(stack), lambda: second_contest_paused(stack)),
    ]


def provider_faults(stack: Stack) -> list[Fault]:
    async def switched(done: str, **switches: object) -> str:
        await sandbox(stack, **switches)
        return done

    return [
        Fault("MTN callbacks lost", "ProviderCallbacksLost", {"provider": "mtn"},
              lambda: switched("the sandbox drops every callback", drop_callbacks=True),
              lambda: switched("callbacks delivered again", drop_callbacks=False)),
        Fault("MTN declines every payment", "ProviderDeclining", {"provider": "mtn"},
              lambda: switched("the sandbox decides every MTN payment FAILED (its API answers 2xx)",
                               decline_share=1.0),
              lambda: switched("payments approved again", decline_share=0.0)),
        Fault("MTN answers 429 to half of our requests", "ProviderThrottling", {"provider": "mtn"},
              lambda: switched("the sandbox answers 429 to every second MTN request", throttle_share=0.5),
              lambda: switched("no more 429s", throttle_share=0.0)),
    ]


def redis_faults(stack: Stack, restarted: list[EmbeddedRedis]) -> list[Fault]:
    def redis_pid() -> int:
        [pid] = [pid for pid, cmd in _processes() if "redis-server" in cmd and str(stack.data_dir) in cmd]
        return pid

    async def freeze() -> str:
        pid = redis_pid()
        os.kill(pid, signal.SIGSTOP)
        return f"redis-server pid {pid} SIGSTOPped (it accepts connections and answers nothing)"

    async def thaw() -> str:
        os.kill(redis_pid(), signal.SIGCONT)
        return "SIGCONT"

    async def kill() -> str:
        pid = redis_pid()
        os.kill(pid, signal.SIGKILL)
        return f"redis-server pid {pid} SIGKILLed"

    async def start_again() -> str:
        server = EmbeddedRedis(stack.data_dir)
        await asyncio.to_thread(server.start)
        restarted.append(server)
        return "redis-server started again on its append-only file"

    return [Fault(f"Redis frozen for {REDIS_FREEZE_SECONDS:.0f} s", "RedisDown", {}, freeze, thaw,
                  lasts=REDIS_FREEZE_SECONDS),
            Fault("Redis SIGKILLed", "RedisDown", {}, kill, start_again)]


def worker_faults(stack: Stack) -> list[Fault]:
    async def kill_worker() -> str:
        pid = periodic_worker(stack)
        os.kill(pid, signal.SIGKILL)
        return f"the periodic jobs' worker pid {pid} SIGKILLed"

    async def replaced() -> str:
        deadline = time.time() + 30
        while time.time() < deadline:
            with contextlib.suppress(LookupError):
                return f"replaced by pid {periodic_worker(stack)}"
            await asyncio.sleep(0.5)
        return "NOT replaced"

    stopped: list[int] = []

    async def hang_worker() -> str:
        group = os.getpgid(periodic_worker(stack))
        os.killpg(group, signal.SIGSTOP)
        stopped.append(group)
        return f"process group {group} (the periodic jobs' worker, its enqueuer, RQ's scheduler) SIGSTOPped"

    async def wake_worker() -> str:
        group = stopped.pop()
        try:
            os.killpg(group, signal.SIGCONT)
        except ProcessLookupError:  # `gateway run` killed the silent worker's group and started another
            return f"its group was gone: {await replaced()}"
        return "SIGCONT"

    # A worker that stops beating for 10 s is killed and replaced by `gateway run` (assembly/machine/liveness.py): the
    # page is that replacement, before any pass is missed long enough for PeriodicPassSilent.
    return [Fault("the periodic jobs' worker SIGKILLed", None, {}, kill_worker, replaced),
            Fault("the periodic jobs' worker hung (SIGSTOP)", "GatewayProcessReplaced", {}, hang_worker,
                  wake_worker, resolves_within=REPLACEMENT_PAGE_SECONDS + 60)]


async def other_contests_off_air(stack: Stack) -> list[str]:
    """Pause every open contest but the one the votes go to (`demo`): `gateway run` seeds the Kenyan demo too, and
    nobody votes in it here, so on air it would rightly page as silent."""
    connection = await asyncpg.connect(stack.database_url)
    try:
        rows = await connection.fetch("UPDATE contests SET status = 'paused' WHERE status = 'open' AND slug <> 'demo' "
                                      "RETURNING slug")
    finally:
        await connection.close()
    return [row["slug"] for row in rows]


async def second_contest_on_air(stack: Stack) -> str:
    """A contest opening now (its window from this moment), with two candidates and MTN, as an organiser's second
    show of the evening would."""
    now = datetime.now(UTC)
    connection = await asyncpg.connect(stack.database_url)
    try:
        async with connection.transaction():
            contest_id = await connection.fetchval(
                "INSERT INTO contests (slug, name, status, opens_at, closes_at, price_per_vote, currency, "
                "max_votes_per_order, providers, default_language) "
                "VALUES ($1, 'Second show', 'open', $2, $3, 100, 'XAF', 100, '{mtn}', 'fr') RETURNING id",
                SECOND_CONTEST, now, now + timedelta(hours=3))
            for code, name in (("01", "First"), ("02", "Second")):
                candidate = await connection.fetchval(
                    "INSERT INTO candidates (contest_id, code, name) VALUES ($1, $2, $3) RETURNING id",
                    contest_id, code, name)
                await connection.execute("INSERT INTO tallies (contest_id, candidate_id, votes) VALUES ($1, $2, 0) "
                                         "ON CONFLICT DO NOTHING", contest_id, candidate)
    finally:
        await connection.close()
    return f"contest {SECOND_CONTEST} opened (on air from now, 3 hours), no vote placed in it"


async def second_contest_paused(stack: Stack) -> str:
    connection = await asyncpg.connect(stack.database_url)
    try:
        await connection.execute("UPDATE contests SET status = 'paused' WHERE slug = $1", SECOND_CONTEST)
    finally:
        await connection.close()
    return f"contest {SECOND_CONTEST} paused"


def periodic_worker(stack: Stack) -> int:
    """The worker the supervisor started to run the periodic jobs (the others have `--no-cron`)."""
    for pid, cmd in _processes():
        if cmd.rstrip().endswith("assembly.cli worker") and parent_of(pid) == stack.process.pid:
            return pid
    raise LookupError("no periodic jobs' worker is running")


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0
