"""Partitions, one at a time, in a burst of votes with viewers connected: then what the voters and viewers saw
is checked against what was promised (Jepsen's way: fault, then check).

Each partition comes during a burst of votes placed through the balancer, once callbacks are coming in, and lasts
its `hold`; then the links are mended and the run checks what `bench.faults` checks after a kill (every order
decided, every approved payment counted once, none lost, the tally invariant, the public board equal to the
tallies) plus: the ledger verifies (`gateway ledger verify`), every viewer ends on the final board, no viewer saw
the board go back, and the balancer took the host out or kept it as the partition requires. Times to recover are
measured from the mend: every order decided, the balancer sending to the host again, every viewer on the final
board. The orders of every burst so far are checked each time: a partition must not undo an earlier one's count.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from bench.faults.burst import CALLBACKS_BEFORE_KILL, callbacks_kept, check, place_votes, sandbox, voters
from bench.faults.hosts import STREAM, Viewer, back_on_a_live_stream, board_version
from bench.faults.network.partitions import PARTITIONS, Partition, deployment
from bench.faults.network.services import WEB_HOSTS, WEB_PORT, Site, running_site, server_states
from bench.harness import ROOT, Stack

WAVE, WAVE_EVERY = 20, 2.0  # 10 votes a second offered, from before the cut until after the mend
VIEWERS = 100
FINAL_BOARD_SECONDS = 60


@dataclass
class BalancerWatch:
    """The balancer's view of the hosts, polled every fifth of a second from its stats socket."""

    stats: Path
    seen: list[tuple[float, dict[str, str]]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.seen.append((time.time(), await asyncio.to_thread(server_states, self.stats)))
            except OSError:
                pass
            await asyncio.sleep(0.2)

    def first(self, host: str, state: str, after: float) -> float | None:
        return next((at for at, states in self.seen if at >= after and states.get(host) == state), None)


async def votes_until(stack: Stack, mended: asyncio.Event, first: int,
                      answered: list[tuple[float, float]]) -> tuple[list[str], int]:
    """A wave of votes every WAVE_EVERY seconds, each wave on its own (a vote held by the cut holds no later one),
    until a wave placed after the mend: the partition falls in the middle of a steady burst however long it lasts.
    The orders placed, and how many votes were offered."""
    waves, offered, offset = [], 0, 0
    while True:
        after_mend = mended.is_set()
        waves.append(asyncio.create_task(place_votes(stack, WAVE, first=first + offset, answered=answered)))
        offered += len(voters(first + offset, WAVE))
        offset += WAVE
        if after_mend:
            return [order for wave in await asyncio.gather(*waves) for order in wave], offered
        await asyncio.sleep(WAVE_EVERY)


async def callbacks_between(database_url: str, start: float, end: float) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM provider_events WHERE kind LIKE 'callback.%' "
            "AND received_at BETWEEN to_timestamp($1::float8) AND to_timestamp($2::float8)", start, end))
    finally:
        await connection.close()


async def callbacks_so_far(database_url: str) -> int:
    return await callbacks_between(database_url, 0, time.time() + 3600)


async def ledger_verifies(site: Site) -> tuple[bool, str]:
    """`gateway ledger verify --contest demo` from the clients' host, as an auditor would run it."""
    env = {**os.environ, "DATABASE_URL": site.stack.database_url, "REDIS_URL": site.stack.redis_url,
           "GATEWAY_DATA_DIR": str(site.network.folder / "auditor"), "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", site.network.namespace("clients"), sys.executable, "-m", "assembly.cli", "ledger",
        "verify", "--contest", "demo", cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = (await process.communicate())[0].decode(errors="replace").strip().splitlines()
    return process.returncode == 0, (output[-1] if output else "")


@dataclass
class BoardClock:
    """When the viewers showed which board: the oldest version any of them shows, sampled every fifth of a second."""

    viewers: list[Viewer]
    seen: list[tuple[float, int]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.seen.append((time.time(), min((v.versions[-1] if v.versions else -1) for v in self.viewers)))
            await asyncio.sleep(0.2)

    async def all_on(self, client: httpx.AsyncClient, since: float) -> tuple[int, float | None]:
        """How many viewers end on the final board, and how long after `since` the last of them got it."""
        final = await board_version(client)
        deadline = time.time() + FINAL_BOARD_SECONDS
        while time.time() < deadline and not (self.seen and self.seen[-1][1] >= final):
            await asyncio.sleep(0.2)
        on_final = sum(1 for viewer in self.viewers if viewer.versions and viewer.versions[-1] >= final)
        reached = next((at for at, oldest in self.seen if at >= since and oldest >= final), None)
        return on_final, (reached - since if reached is not None and on_final == len(self.viewers) else None)


def voters_waited(answered: list[tuple[float, float]], cut_at: float, healed_at: float) -> str:
    """The median and the longest wait of the votes first tried before the cut, and of those tried during it."""
    def told(waits: list[float]) -> str:
        return f"median {statistics.median(waits):.1f} s, longest {max(waits):.1f} s" if waits else "none"

    before = [wait for started, wait in answered if started < cut_at]
    during = [wait for started, wait in answered if cut_at <= started < healed_at]
    return f"before the cut {told(before)}; during it {told(during)}"


def balancer_verdict(partition: Partition, watch: BalancerWatch, cut_at: float, healed_at: float,
                     ) -> tuple[str, bool]:
    """What the balancer did with the hosts during the cut, and whether the partition allows it."""
    host = partition.host
    if host not in WEB_HOSTS:
        went = [name for name in WEB_HOSTS if (at := watch.first(name, "DOWN", cut_at)) is not None
                and at <= healed_at + 1]
        return ("kept both web hosts in throughout" if not went else f"took {', '.join(went)} out during the cut",
                partition.taken_out is not False or not went)
    out = watch.first(host, "DOWN", cut_at)
    out = out if out is not None and out <= healed_at + 1 else None
    if out is None:
        return ("NO: " if partition.taken_out else "") + f"kept {host} in throughout", partition.taken_out is not True
    back = watch.first(host, "UP", healed_at)
    back_text = f"back {back - healed_at:.1f} s after the mend" if back else "NOT back in"
    wrong = "NO (it must stay in): " if partition.taken_out is False else ""
    return (f"{wrong}took {host} out {out - cut_at:.1f} s after the cut, {back_text}",
            partition.taken_out is not False and back is not None)


async def readiness(url: str, stop: asyncio.Event) -> list[tuple[int, float]]:
    """The host's /readyz asked directly (not through the balancer) every second: its status and answer time."""
    seen: list[tuple[int, float]] = []
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = (await client.get(f"{url}/readyz")).status_code
            except httpx.HTTPError:
                status = 0
            seen.append((status, time.monotonic() - started))
            await asyncio.sleep(1)
    return seen


def readiness_told(seen: list[tuple[int, float]]) -> str:
    if not seen:
        return "not asked"
    statuses = ", ".join(f"{'no answer' if status == 0 else status} x{count}" for status, count in
                         sorted({status: sum(1 for s, _ in seen if s == status) for status, _ in seen}.items()))
    return f"{statuses}; answered in {min(w for _, w in seen):.1f}-{max(w for _, w in seen):.1f} s"


async def one_partition(site: Site, partition: Partition, client: httpx.AsyncClient, clock: BoardClock,
                        placed: list[str]) -> dict[str, str]:
    stack, network = site.stack, site.network
    watch, stop = BalancerWatch(site.balancer_stats), asyncio.Event()
    watching = asyncio.create_task(watch.run(stop))
    kept = await callbacks_so_far(stack.database_url)
    mended = asyncio.Event()
    answered: list[tuple[float, float]] = []
    burst = asyncio.create_task(votes_until(stack, mended, 1000 * ord(partition.key) + 1, answered))
    await callbacks_kept(stack, at_least=kept + CALLBACKS_BEFORE_KILL, timeout=90)
    pairs = partition.pairs(network.table)
    await asyncio.to_thread(network.links, cut=pairs)
    cut_at = time.time()
    cut_over = asyncio.Event()
    asked = asyncio.create_task(readiness(f"http://{network.address(partition.host)}:{WEB_PORT}", cut_over)) \
        if partition.host in WEB_HOSTS else None
    print(f"  ({partition.key}) cut {partition.host} from {', '.join(partition.others or ('everything',))}",
          flush=True)
    await asyncio.sleep(partition.hold)
    during_burst = not burst.done()
    await asyncio.to_thread(network.links, heal=True)
    healed_at = time.time()
    mended.set()
    cut_over.set()
    ready_seen = await asked if asked is not None else []
    print(f"  ({partition.key}) mended after {healed_at - cut_at:.0f} s", flush=True)
    ids, offered = await burst
    placed += ids
    checked = await check(stack, len(placed), healed_at)
    checked["every order decided"] = checked["every order decided"].replace("after the kill", "after the mend")
    await asyncio.sleep(max(0.0, healed_at + 10 - time.time()))
    late = await callbacks_between(stack.database_url, healed_at, healed_at + 10)
    during = await callbacks_between(stack.database_url, cut_at, healed_at)
    verified, ledger_says = await ledger_verifies(site)
    on_final, final_in = await clock.all_on(client, healed_at)
    viewers = clock.viewers
    stop.set()
    await watching
    balancer, balancer_ok = balancer_verdict(partition, watch, cut_at, healed_at)
    cut, back_in = back_on_a_live_stream(viewers, cut_at)
    ok = (checked.pop("verdict") == "PASS" and verified and on_final == len(viewers) and balancer_ok and during_burst
          and len(ids) >= offered * 0.95 and (cut == 0 or back_in is not None))
    return {
        "cut": f"{partition.host} from {', '.join(partition.others or ('every other host',))} ({len(pairs)} links), "
               f"{healed_at - cut_at:.0f} s, during the burst: {'yes' if during_burst else 'NO'}",
        "votes of this burst": f"{len(ids)} of {offered} placed, {WAVE} every {WAVE_EVERY:.0f} s from before the "
                               "cut to after the mend",
        "what voters waited for their 201 (first try -> answer, retries included)": voters_waited(answered, cut_at,
                                                                                                 healed_at),
        "balancer": balancer,
        **({f"{partition.host}'s /readyz during the cut": readiness_told(ready_seen)} if asked else {}),
        "callbacks kept": f"{during} during the cut, {late} in the 10 s after the mend",
        **checked,
        "ledger verifies": "yes" if verified else f"NO: {ledger_says}",
        "viewers whose stream broke after the cut": (f"{cut}, every one back on a live stream {back_in:.1f} s "
                                                     "after the cut" if cut and back_in is not None
                                                     else f"{cut}, NOT all back" if cut else "0"),
        "mend -> every viewer on the final board": (f"{final_in:.1f} s" if final_in is not None else
                                                    f"NO: {on_final} of {len(viewers)} after "
                                                    f"{FINAL_BOARD_SECONDS} s"),
        "verdict": "PASS" if ok else "FAIL",
    }


async def network_scenario(site: Site, partitions: list[Partition]) -> dict[str, str]:
    """Each partition in turn, with the same viewers watching throughout."""
    stack = site.stack
    await sandbox(stack, success_delay=0.3, answer_delay=0.2)
    viewers = [Viewer(f"102.245.{i // 250}.{i % 250 + 1}") for i in range(VIEWERS)]
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=VIEWERS + 10, max_keepalive_connections=0)
    figures: dict[str, str] = {}
    placed: list[str] = []
    async with httpx.AsyncClient(base_url=stack.base_url, limits=limits,
                                 timeout=httpx.Timeout(None, connect=5)) as client:
        clock = BoardClock(viewers)
        watching = [asyncio.create_task(viewer.watch(client, stop)) for viewer in viewers]
        watching.append(asyncio.create_task(clock.run(stop)))
        await asyncio.sleep(5)
        figures["viewers through the balancer"] = (f"{sum(1 for v in viewers if v.live_at)} of {VIEWERS} live "
                                                   f"before the first partition ({STREAM})")
        verdicts = []
        for partition in partitions:
            found = await one_partition(site, partition, client, clock, placed)
            verdicts.append(found["verdict"])
            figures.update({f"({partition.key}) {partition.title}: {key}": value for key, value in found.items()})
        stop.set()
        for task in watching:
            task.cancel()
    went_back = sum(1 for viewer in viewers if viewer.went_back())
    figures["viewers who saw the board go back"] = str(went_back)
    figures["verdict"] = "PASS" if all(v == "PASS" for v in verdicts) and not went_back else "FAIL"
    return figures


def run_network(only: list[str] | None = None) -> dict[str, str]:
    """Build the hosts and their links, start the deployment on fast links, shape them, and run the partitions
    (`only`: those whose keys are listed); everything is torn down after, even on a failure or Ctrl-C."""
    chosen = [partition for partition in PARTITIONS if only is None or partition.key in only]
    started = time.monotonic()
    with running_site(deployment()) as site:
        network = site.network
        network.links(shaping=True)
        set_up = time.monotonic() - started
        print(f"  hosts up in {set_up:.0f} s; links shaped: 50 ms between hosts, 300 ms and 1% loss to the "
              "providers", flush=True)
        figures = {"hosts": "7 network namespaces: web-a and web-b (`gateway run`: 1 web process, 1 worker), "
                            "db (PostgreSQL), redis, balancer (HAProxy), providers (`gateway stand-ins`), "
                            "clients (voters, viewers, the checks); a router namespace between them",
                   "links": "50 ms each way between hosts; 300 ms each way and 1% loss each way to/from the "
                            "providers (a user-space emulator on a TUN device: this kernel has no netem)",
                   "start-up on fast links": f"{set_up:.0f} s"}
        figures |= asyncio.run(network_scenario(site, chosen))
        figures["links: packets passed, lost"] = "{passed}, {lost}".format(**network.links(table=True))
    figures["whole run"] = f"{time.monotonic() - started:.0f} s"
    return figures
