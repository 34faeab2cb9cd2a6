"""What a confirmed vote costs as service hosts are added in front of one database: 1, 2 and 3 `gateway run` hosts
(one web process and one worker each), each in a network namespace of its own, behind HAProxy on its own host,
sharing one PostgreSQL host and one Redis host, the providers' stand-ins on theirs, the voters on a client host
(bench/faults/network: the namespaces, their router and the servers on them).

    sudo .venv/bin/python -m bench.scale_hosts [--hosts 1,2,3] [--rate 150] [--seconds 30] [--no-record]

For each number of hosts, on a deployment started afresh: an unmeasured warm-up, then web-API votes paid by MTN
offered at `--rate` a second (open loop, bench.votes' voters), then bench.votes' closed loop (`--voters` at once:
the most it confirms). Per run: confirmed votes/s, callback -> counted p50/p99, CPU per confirmed vote by process
kind (each read from /proc by the host whose namespace it is in: web, worker, the hosts' `gateway run` supervisors,
PostgreSQL, Redis, HAProxy, the stand-ins, the load generator), PostgreSQL's client backends by host and what the
active ones waited on, commits, writing transactions and WAL per vote (bench/postgres_activity.py), the requests
each host served, the load average and the machine's CPU taken by other work.

Every namespace shares this machine's cores: a host added brings no core with it. The figures tell what a vote
costs as hosts (and their connections to the one database) are added, and where that cost bends, not throughput
that more machines would bring. Links are fast (the router's kernel forwards) unless `--delay` asks the link
emulator for a delay each way between all hosts (its own CPU then shown as "link emulator").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from assembly.cpu.processes import read_table
from bench.faults.network.links import Link, LinkTable, address
from bench.faults.network.services import Site, running_site, server_rows
from bench.faults.network.topology import Network
from bench.harness import print_report, record
from bench.postgres_activity import Activity
from bench.vote_providers import PROVIDERS
from bench.votes import drive, measured

PAID_BY = PROVIDERS["mtn"]
SERVICE_HOSTS = ("web-a", "web-b", "web-c")
OTHER_HOSTS = ("db", "redis", "balancer", "providers", "clients")
SHOW_RATE = 25_000  # votes a second at the biggest shows' peak (docs/scale.md)
WARM = 5.0  # bench.votes' `measured` leaves a run's first seconds out of its rates and latencies
# Payer numbers of each run: forwarded addresses (41.202.<n // 250 % 250>.x) apart, so no limit carries over.
FIRST_NUMBERS = {"warm-up": 2_100_000, "open": 1, "closed": 1_025_000}
COUNTED = "callback received -> tally committed (after the first 5 s)"  # bench.votes' `measured` figure
# Processes by the host whose network namespace they are in; the service hosts' by their command line.
HOST_KINDS = {"db": "PostgreSQL", "redis": "Redis", "balancer": "HAProxy", "providers": "stand-ins",
              "router": "link emulator", "clients": "load generator"}
SERVICE_KINDS = (("assembly.cli web", "web"), ("assembly.cli worker", "worker"))
SUPERVISOR = "gateway run (supervisor)"


def layout(hosts: int, delay: float) -> LinkTable:
    """`hosts` service hosts and the others, every pair on one link (`delay` seconds each way)."""
    names = (*SERVICE_HOSTS[:hosts], *OTHER_HOSTS)
    return LinkTable({name: number for number, name in enumerate(names, start=1)}, Link(delay))


def kind_of(host: str, pid: int) -> str:
    if host in HOST_KINDS:
        return HOST_KINDS[host]
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return SUPERVISOR
    return next((kind for marker, kind in SERVICE_KINDS if marker in command), SUPERVISOR)


def host_cpu_seconds(network: Network) -> dict[str, float]:
    """CPU seconds so far of every process of the namespaces (with their reaped children's), by kind."""
    totals: dict[str, float] = {}
    table = read_table()
    for host, pids in network.pids_by_host().items():
        for pid in pids:
            if (seconds := table.cpu.get(pid)) is None:
                continue  # gone meanwhile: its time is in its parent's once reaped
            kind = kind_of(host, pid)
            totals[kind] = totals.get(kind, 0.0) + seconds
    return totals


@dataclass
class Run:
    hosts: int
    mode: str  # "open" or "closed"
    figures: dict[str, str]  # bench.votes' `measured`
    confirmed: int
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per confirmed vote, by kind
    database: dict[str, str] = field(default_factory=dict)
    served: str = ""
    machine: str = ""

    @property
    def rate(self) -> float:
        return float(self.figures["_rate"])

    @property
    def title(self) -> str:
        return f"{self.hosts} host{'s' if self.hosts > 1 else ''}, {self.mode}"


async def paid_orders(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM vote_orders WHERE status = 'paid'"))
    finally:
        await connection.close()


BALANCER_COUNTS = ("req_tot", "chkdown", "downtime")  # requests sent, times taken out by its checks, seconds out


def balancer_counts(site: Site) -> dict[str, list[int]]:
    """BALANCER_COUNTS of each service host so far, as HAProxy's stats tell them."""
    rows = server_rows(site.balancer_stats, tuple(site.hosts))
    return {name: [int(row.get(key) or 0) for key in BALANCER_COUNTS] for name, row in rows.items()}


def served_text(before: dict[str, list[int]], after: dict[str, list[int]]) -> str:
    """The requests each host was sent during a run, and how often the balancer's checks took it out."""
    moved = {name: [now - then for now, then in zip(counts, before.get(name, [0, 0, 0]), strict=True)]
             for name, counts in after.items()}
    total = sum(counts[0] for counts in moved.values()) or 1
    return ", ".join(f"{name} {requests / total:.0%}" + (f" (taken out {out} times, {down} s out)" if out else "")
                     for name, (requests, out, down) in sorted(moved.items()))


def host_namer(network: Network) -> dict[str, str]:
    return {address(number): host for host, number in network.table.hosts.items()}


async def one_run(site: Site, mode: str, seconds: float, voters: int, rate: float | None) -> Run:
    """bench.votes' open or closed loop through the balancer, PostgreSQL sampled meanwhile; CPU per confirmed vote
    from the first reading (before the load) to the last (every order decided)."""
    stack, network = site.stack, site.network
    names = host_namer(network)
    activity = Activity(stack.database_url, lambda found: names.get(found or "", found or "local"))
    readings: list[dict[str, float]] = []

    def cpu() -> dict[str, float]:
        readings.append(host_cpu_seconds(network))
        return readings[-1]

    stop = asyncio.Event()
    sampler = asyncio.create_task(activity.run(stop))
    paid_before, served_before = await paid_orders(stack.database_url), balancer_counts(site)
    try:
        load, started, deadline = await drive(stack, PAID_BY, seconds, voters, rate, FIRST_NUMBERS[mode], cpu)
    finally:
        stop.set()
        await sampler
    confirmed = await paid_orders(stack.database_url) - paid_before
    served = served_text(served_before, balancer_counts(site))
    figures = await measured(stack, load, started, deadline)
    before, after = readings[0], readings[-1]
    run = Run(len(site.hosts), mode, figures, confirmed, served=served, machine=load.machine,
              cpu_ms={kind: (after[kind] - before.get(kind, 0.0)) * 1000 / max(confirmed, 1) for kind in after})
    run.database = {"backends": activity.backends(started + WARM, deadline),
                    "per vote": activity.per_vote_text(started + WARM, deadline, run.rate),
                    "holding": activity.holding(started + WARM, deadline)}
    return run


def hosts_runs(hosts: int, args: argparse.Namespace) -> list[Run]:
    """A deployment with `hosts` service hosts started afresh: warm-up, the open loop, the closed loop."""
    started = time.monotonic()
    with running_site(layout(hosts, args.delay / 1000), SERVICE_HOSTS[:hosts], emulated=args.delay > 0) as site:
        if args.delay:
            site.network.links(shaping=True)
        print(f"  {hosts} service host(s) up in {time.monotonic() - started:.0f} s", flush=True)
        if args.warm_up > 0:  # every pooled connection past its first plans, the workers past their first jobs
            asyncio.run(drive(site.stack, PAID_BY, args.warm_up, args.voters, args.rate, FIRST_NUMBERS["warm-up"],
                              cpu=dict))
        runs = [asyncio.run(one_run(site, "open", args.seconds, args.voters, args.rate)),
                asyncio.run(one_run(site, "closed", args.seconds, args.voters, None))]
    for run in runs:
        print(f"  {run.title}: {run.rate:.1f} confirmed/s, PostgreSQL {run.cpu_ms.get('PostgreSQL', 0):.2f} ms "
              f"a vote", flush=True)
    return runs


NOT_THE_DEPLOYMENT = ("load generator", "link emulator")


def deployment_ms(cpu_ms: dict[str, float]) -> float:
    """CPU per vote of the deployment's own processes (not the load generator's, nor the emulated links')."""
    return sum(value for kind, value in cpu_ms.items() if kind not in NOT_THE_DEPLOYMENT)


def cpu_text(cpu_ms: dict[str, float]) -> str:
    shown = sorted(((value, kind) for kind, value in cpu_ms.items() if value >= 0.005), reverse=True)
    return (", ".join(f"{kind} {value:.2f}" for value, kind in shown)
            + f" (the deployment's {deployment_ms(cpu_ms):.2f}, with the load generator {sum(cpu_ms.values()):.2f})")


def cores_at_show_rate(cpu_ms: dict[str, float]) -> str:
    """The cores these costs would take at SHOW_RATE votes a second, by kind (the busiest four)."""
    shown = sorted(((value * SHOW_RATE / 1000, kind) for kind, value in cpu_ms.items()
                    if kind not in NOT_THE_DEPLOYMENT), reverse=True)
    return ", ".join(f"{kind} {cores:.0f}" for cores, kind in shown[:4])


def run_figures(run: Run, args: argparse.Namespace) -> dict[str, str]:
    load = f"{args.rate:g} votes/s offered" if run.mode == "open" else f"closed loop, {args.voters} voters"
    return {
        f"{run.title}: confirmed votes/s (steady)": f"{run.rate:.1f} ({load}; {run.figures['orders placed']}, "
                                                    f"{run.confirmed} confirmed)",
        f"{run.title}: callback -> counted": run.figures[COUNTED],
        f"{run.title}: CPU per confirmed vote, ms": cpu_text(run.cpu_ms),
        f"{run.title}: PostgreSQL client backends (sampled every 0.5 s)": run.database["backends"],
        f"{run.title}: PostgreSQL per confirmed vote": run.database["per vote"],
        f"{run.title}: PostgreSQL's active backends' statements": run.database["holding"],
        f"{run.title}: cores at {SHOW_RATE:,} votes/s at these costs": cores_at_show_rate(run.cpu_ms),
        f"{run.title}: requests by host (HAProxy)": run.served,
        f"{run.title}: errors, invariant": f"{run.figures['errors']}; tally invariant "
                                           f"{run.figures['tally invariant']}",
        f"{run.title}: machine meanwhile": run.machine,
    }


BEND_KINDS = ("PostgreSQL", "web", "worker", SUPERVISOR, "HAProxy")


def against(now: float, then: float) -> str:
    return f" ({(now - then) / then:+.0%})" if then else ""


def bends(runs: list[Run]) -> str:
    """Each run against the fewest hosts' run of the same mode: confirmed/s, and the CPU per vote of the kinds that
    move with hosts."""
    first = {run.mode: run for run in sorted(runs, key=lambda run: -run.hosts)}  # the fewest hosts' last
    lines = []
    for run in runs:
        base = first[run.mode]
        kinds = [(kind, run.cpu_ms.get(kind, 0.0), base.cpu_ms.get(kind, 0.0)) for kind in BEND_KINDS]
        kinds.append(("the deployment", deployment_ms(run.cpu_ms), deployment_ms(base.cpu_ms)))
        shown = (f"{kind} {now:.2f} ms" + ("" if run is base else against(now, then)) for kind, now, then in kinds)
        lines.append(f"{run.title}: {run.rate:.1f} confirmed/s{'' if run is base else against(run.rate, base.rate)}; "
                     + ", ".join(shown))
    return "".join(f"\n  - {line}" for line in lines)


SHARED = ("Every namespace runs on this machine's {cores} cores (shared with other work: each run's load average and "
          "other processes' CPU above): a service host added brings no core, so confirmed/s cannot grow with hosts; "
          "what the hosts change is each vote's cost (more processes, pools and PostgreSQL backends for as many "
          "votes)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_hosts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="1,2,3", help="the numbers of service hosts to run, e.g. 1,2,3")
    parser.add_argument("--rate", type=float, default=150, help="votes a second offered in the open loop")
    parser.add_argument("--seconds", type=float, default=30, help="each run's load")
    parser.add_argument("--voters", type=int, default=64, help="concurrent voters of the closed loop")
    parser.add_argument("--warm-up", type=float, default=10, metavar="SECONDS",
                        help="unmeasured votes at --rate on each deployment first")
    parser.add_argument("--delay", type=float, default=0, metavar="MS", help="each way between any two hosts, "
                        "through the link emulator (its CPU shown too); none by default: the kernel forwards")
    parser.add_argument("--no-record", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    args.host_counts = [int(n) for n in args.hosts.split(",")]
    if not all(1 <= n <= len(SERVICE_HOSTS) for n in args.host_counts):
        parser.error(f"--hosts: each between 1 and {len(SERVICE_HOSTS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("bench.scale_hosts makes network namespaces: run it as root")
    runs = [run for hosts in args.host_counts for run in hosts_runs(hosts, args)]
    figures = {
        "hosts": f"for each of {args.hosts} service host(s), a deployment started afresh: each service host a "
                 "`gateway run` (1 web process, 1 worker) in a network namespace of its own; db (PostgreSQL), "
                 "redis, balancer (HAProxy), providers (`gateway stand-ins`: MTN's sandbox approving in 50 ms), "
                 "clients (the voters) each in theirs; a router namespace between them",
        "links": f"{args.delay:g} ms each way through the link emulator" if args.delay else
                 "fast: forwarded by the router's kernel, nothing added",
        "load": f"web-API votes paid by MTN, {args.warm_up:g} s unmeasured at {args.rate:g}/s, then {args.seconds:g} s "
                f"offered at {args.rate:g}/s (open loop), then {args.seconds:g} s closed loop ({args.voters} voters); "
                "rates and latencies leave each run's first 5 s out; CPU from the start of the load until every "
                "order is decided",
    }
    for run in runs:
        figures.update(run_figures(run, args))
    figures["against the fewest hosts (CPU per confirmed vote)"] = bends(runs)
    figures["shared machine"] = SHARED.format(cores=os.cpu_count())
    report = print_report("scale-hosts: a vote's cost with 1, 2 and 3 service hosts against one database", figures)
    if not args.no_record:
        record("scale-hosts", report)


if __name__ == "__main__":
    main()
