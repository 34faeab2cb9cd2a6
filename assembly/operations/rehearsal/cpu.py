"""Where the installation's CPU went during a rehearsal. By part (a channel, the payments, the relay, the
verification, the reconciler, the board...): `gateway_cpu_seconds_total`, measured in the web processes and the
workers (assembly/cpu/accounts.py), read on the installation's /metrics before and after. By process, when the
installation is on this machine: each kind of its processes (/proc), this rehearsal's own and the rest of the
machine's. Reading here, the printout a pure function of two readings."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from assembly.cpu.accounts import CPU_SECONDS
from assembly.cpu.parts import CHANNEL_PARTS, SHARED_PARTS
from assembly.cpu.processes import Address, installation_at, machine_cpu_seconds, read_table

K = TypeVar("K")
SAMPLE = CPU_SECONDS + "_total"
SHOWN = 0.05  # seconds: a part that spent less is left out where it is not always named
WEB, WORKER = "web processes", "RQ workers"  # the kinds of process the parts are measured in
# What the counters cannot see, said under them: the web processes' and the workers' time outside what is measured.
UNSEEN_WEB = ("aiohttp's work around the handlers (reading and parsing requests, sending answers), the event loop's "
              "callbacks (asyncpg's parsing of PostgreSQL's answers) and threads")
UNSEEN_WORKERS = "RQ's waits and heartbeats and the periodic enqueuer"


@dataclass(frozen=True)
class CpuReading:
    at: float  # time.monotonic()
    own: float  # this rehearsal's CPU seconds
    parts: dict[tuple[str, str], float] = field(default_factory=dict)  # (part, process: web | worker) -> seconds
    parts_unread: str = ""  # why no parts were read ("" when they were)
    kinds: dict[str, float] = field(default_factory=dict)  # the installation's processes by kind -> seconds
    kinds_unread: str = ""
    machine: float | None = None  # the machine's CPU seconds, all cores


async def read_cpu(base_url: str, token: str | None, addresses: tuple[Address, ...]) -> CpuReading:
    """`addresses`: where the installation's web processes, PostgreSQL and Redis listen on this machine (none: it
    is elsewhere)."""
    parts, parts_unread = await read_parts(base_url, token)
    kinds: dict[str, float] = {}
    kinds_unread, machine = "the installation is not on this machine", None
    if addresses:
        kinds, kinds_unread = await asyncio.to_thread(read_kinds, addresses)
        machine = machine_cpu_seconds()
    return CpuReading(time.monotonic(), time.process_time(), parts, parts_unread, kinds, kinds_unread, machine)


async def read_parts(base_url: str, token: str | None) -> tuple[dict[tuple[str, str], float], str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http, \
                http.get(f"{base_url}/metrics", headers=headers) as response:
            if response.status != 200:
                refused = response.status in (401, 403)
                return {}, f"/metrics answered HTTP {response.status}" + (
                    " (METRICS_TOKEN as the installation's, or this address in its METRICS_ALLOW)" if refused else "")
            text = await response.text()
        found = {(sample.labels["part"], sample.labels["process"]): sample.value for family in
                 text_string_to_metric_families(text) for sample in family.samples if sample.name == SAMPLE}
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:  # unreachable, or not Prometheus' text
        return {}, f"/metrics could not be read ({type(exc).__name__})"
    return found, ""  # none yet: nothing counted so far


def read_kinds(addresses: Iterable[Address]) -> tuple[dict[str, float], str]:
    table = read_table()
    ours = installation_at(addresses, table)
    if os.getpid() in ours:
        return {}, "the installation serves from this process"
    return (table.by_kind(ours), "") if ours else ({}, "no process of it found listening here")


def cpu_lines(before: CpuReading, after: CpuReading, offered: Mapping[str, int], cores: int) -> list[str]:
    """The rehearsal's CPU printout: by process, by part (each channel's share and CPU per vote offered on it), and
    what no part holds."""
    seconds = after.at - before.at
    kinds = spent(before.kinds, after.kinds)
    parts = spent(before.parts, after.parts)
    whole = sum(kinds.values())
    lines = [f"CPU during the run ({seconds:.0f} s, from before the first vote until the installation settled; "
             f"{cores} cores here):"]
    if after.kinds_unread or before.kinds_unread:
        lines.append(f"  by process: not read, {after.kinds_unread or before.kinds_unread}")
    else:
        shown = ", ".join(f"{kind} {value:.1f} s" for kind, value in sorted(kinds.items(), key=lambda kv: -kv[1]))
        rest = ""
        if before.machine is not None and after.machine is not None:
            others = after.machine - before.machine - whole - (after.own - before.own)
            rest = f"; the rest of the machine {max(others, 0.0):.1f} s"
        votes = sum(offered.values())
        lines.append(f"  by process: the installation {whole:.1f} s ({whole / max(seconds * cores, 1e-9):.0%} of the "
                     f"cores; {whole * 1000 / max(votes, 1):.1f} ms a vote offered): {shown}; this rehearsal "
                     f"{after.own - before.own:.1f} s{rest}")
    if after.parts_unread or before.parts_unread or not after.parts:
        why = after.parts_unread or before.parts_unread or f"/metrics has no {SAMPLE} (a release before it)"
        lines.append(f"  by part: not read, {why}")
        return lines
    lines.append(by_part(parts, offered, whole))
    lines.append(unattributed(kinds, parts, whole))
    return lines


def spent(before: Mapping[K, float], after: Mapping[K, float]) -> dict[K, float]:
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def by_part(parts: Mapping[tuple[str, str], float], offered: Mapping[str, int], whole: float) -> str:
    """Each channel's seconds, share and CPU a vote offered on it, then the background the channels share."""
    totals: dict[str, float] = {}
    in_workers: dict[str, float] = {}
    for (part, process), value in parts.items():
        totals[part] = totals.get(part, 0.0) + value
        if process == "worker":
            in_workers[part] = in_workers.get(part, 0.0) + value
    base = whole or sum(totals.values())

    def shown(part: str) -> str:
        value = totals.get(part, 0.0)
        figures = f"{part} {value:.1f} s ({value / max(base, 1e-9):.0%}"
        if in_workers.get(part, 0.0) >= SHOWN:
            figures += f", in workers {in_workers[part]:.1f} s"
        if offered.get(part):
            figures += f"; {value * 1000 / offered[part]:.1f} ms a vote"
        return figures + ")"

    channels = [shown(part) for part in CHANNEL_PARTS if offered.get(part) or totals.get(part, 0.0) >= SHOWN]
    rest = sorted(((value, part) for part, value in totals.items()
                   if part not in (*CHANNEL_PARTS, *SHARED_PARTS) and value >= SHOWN), reverse=True)
    of = "the installation's CPU" if whole else "the CPU measured by part"
    return (f"  by part (share of {of}; CPU a vote offered on the channel): {', '.join(channels)}; shared: "
            f"{', '.join(shown(part) for part in SHARED_PARTS)}"
            + (f"; other parts: {', '.join(f'{part} {value:.1f} s' for value, part in rest)}" if rest else ""))


def unattributed(kinds: Mapping[str, float], parts: Mapping[tuple[str, str], float], whole: float) -> str:
    """The web processes' and workers' CPU no part holds (by process less by part), and what has no parts at all."""
    servers = "PostgreSQL, Redis and the stand-ins are measured by process only"
    if not whole:
        return (f"  not attributed: not sized (by process not read): in the web processes {UNSEEN_WEB}, in the "
                f"workers {UNSEEN_WORKERS}; {servers}")
    measured = {process: sum(value for (_, where), value in parts.items() if where == process)
                for process in ("web", "worker")}
    web = max(kinds.get(WEB, 0.0) - measured["web"], 0.0)
    workers = max(kinds.get(WORKER, 0.0) - measured["worker"], 0.0)
    return (f"  not attributed: web processes outside the handlers and tasks measured {web:.1f} s ({web / whole:.0%}), "
            f"as {UNSEEN_WEB}; workers outside their jobs {workers:.1f} s ({workers / whole:.0%}), as "
            f"{UNSEEN_WORKERS}; {servers}")
