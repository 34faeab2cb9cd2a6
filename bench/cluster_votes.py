"""What synchronous replication costs a confirmed vote: the service on the show's PostgreSQL cluster (3 nodes under
Patroni in strict synchronous mode, 1 etcd, HAProxy; bench/cluster on loopback addresses), the closed loop of
`bench.votes` run on the same cluster (1) as shipped, every commit waiting for the synchronous standby's flush, and
(2) with Patroni's synchronous_mode turned off (PATCH /config, as `patronictl edit-config --set synchronous_mode=false`
does), once pg_stat_replication shows no synchronous standby (`--rounds`: both again, alternated); then, for context,
the same loop on the embedded single server `gateway run` starts by itself.

    python -m bench.cluster_votes [--seconds 30] [--voters 64] [--rounds 3] [--no-embedded]

Per run: confirmed votes/s, the vote's answer (POST -> 201) and callback -> counted (p50/p99), CPU per confirmed
vote by process kind (the service's as bench.votes finds them; the cluster's: the primary's PostgreSQL, the replicas',
Patroni, etcd, HAProxy), and the difference. Recorded as `cluster-votes` in bench/RESULTS.md. Needs Debian's patroni,
etcd-server, postgresql-15 and haproxy (as root, PostgreSQL and Patroni run as `postgres`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import re
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import psutil

from bench.cluster.postgres_cluster import (
    Balancer,
    PostgresCluster,
    database_url,
    missing_binaries,
    psql,
    smallest_cluster,
    state,
)
from bench.cluster.server_processes import postmaster_pids
from bench.harness import (
    Stack,
    count_reaches_on,
    cpu_seconds,
    machine_cpu_seconds,
    machine_share,
    ms,
    percentile,
    print_report,
    record,
    running_stack,
)
from bench.vote_providers import PROVIDERS
from bench.votes import BACKLOG, Load, cast_vote, measured, wait_settled

PAID_BY = PROVIDERS["mtn"]
SYNC_CHANGED_WITHIN = 60.0  # Patroni applies a changed synchronous_mode on its next loop (loop_wait 10 s as shipped)
WARM_UP = 5.0  # seconds left out of the answers' latencies, as bench.votes leaves them out of its figures
# Payer numbers of each run: fresh numbers and forwarded addresses (41.202.<n // 250 % 250>.x), so no per-number or
# per-address limit carries over from one run to the next.
FIRST_NUMBERS = {"warm-up": 2_100_000, "strict": 1, "off": 1_050_000, "embedded": 1}
ROUND_NUMBERS = 20_000  # a round's runs start this much further (80 addresses' blocks on: none met twice in 3 rounds)
# Each measured run starts with the status checks of the votes before it all done (MTN's 10 a second: a run's
# backlog takes a minute or two), so none of one run's verification is charged to the next.
VERIFIED_WITHIN = 300.0
COUNTED = "callback received -> tally committed (after the first 5 s)"  # bench.votes' `measured` figure


@dataclass
class Run:
    """One closed loop's figures."""

    name: str
    round: int
    figures: dict[str, str]  # bench.votes' `measured`
    answers: list[float]  # seconds from each vote's POST to its answer, after the warm-up
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per confirmed vote, by process kind
    machine: str = ""

    @property
    def rate(self) -> float:
        return float(self.figures["_rate"])

    @property
    def to_counted(self) -> tuple[float, float]:
        return spread_values(self.figures[COUNTED])


def spread_values(spread: str) -> tuple[float, float]:
    """p50 and p99 in ms from bench.votes' `spread` text ("p50 12.3 ms, p99 45.6 ms, n=…"); NaN if absent."""
    found = re.search(r"p50 ([0-9.]+|nan) ms, p99 ([0-9.]+|nan) ms", spread)
    return (float(found.group(1)), float(found.group(2))) if found else (float("nan"), float("nan"))


def change(before: float, after: float) -> str:
    """`after` against `before`: the difference and its share of `before`."""
    share = f" ({(after - before) / before:+.0%})" if before else ""
    return f"{after - before:+.2f}{share}"


def tree_cpu(roots: Iterable[int], skip: Collection[int] = ()) -> tuple[float, set[int]]:
    """CPU seconds of each root process and its descendants (with their reaped children's), leaving out `skip`."""
    seconds, seen = 0.0, set[int]()
    for root in roots:
        try:
            tree = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
        except psutil.Error:
            continue
        for process in tree:
            if process.pid in skip or process.pid in seen:
                continue
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            seen.add(process.pid)
            seconds += times.user + times.system + times.children_user + times.children_system
    return seconds, seen


def cluster_cpu_seconds(cluster: PostgresCluster, leader: str) -> dict[str, float]:
    """CPU seconds so far of the cluster's processes by kind: a node's PostgreSQL (its postmaster and backends, not
    Patroni's child) is the primary's or a replica's; Patroni is the rest of the node's tree."""
    totals = {"PostgreSQL primary": 0.0, "PostgreSQL replicas": 0.0}
    postgres: set[int] = set()
    for node in cluster.nodes:
        seconds, pids = tree_cpu(postmaster_pids(node.data_dir))
        totals["PostgreSQL primary" if node.name == leader else "PostgreSQL replicas"] += seconds
        postgres |= pids
    patroni = [node.process.pid for node in cluster.nodes if node.process is not None]
    totals["Patroni"] = tree_cpu(patroni, skip=postgres)[0]
    totals["etcd"] = tree_cpu(member.process.pid for member in cluster.etcd if member.process is not None)[0]
    totals["HAProxy"] = tree_cpu(balancer.process.pid for balancer in cluster.balancers)[0]
    return totals


async def timed_voter(client: aiohttp.ClientSession, url: str, numbers: itertools.count[int], deadline: float,
                      load: Load, answers: list[tuple[float, float]]) -> None:
    """bench.votes' closed-loop voter, each vote's answer timed: (sent at, seconds to the answer)."""
    while time.time() < deadline:
        sent = time.time()
        await cast_vote(client, PAID_BY, url, numbers, load)
        answers.append((sent, time.time() - sent))


async def closed_loop(name: str, stack: Stack, seconds: float, voters: int,
                      more_cpu: Callable[[], dict[str, float]], round_number: int = 1) -> Run:
    """bench.votes' closed loop (the sandbox approving in 50 ms) until every order is decided; CPU per confirmed vote
    of the stack's processes and of `more_cpu`'s (the cluster's)."""
    async with httpx.AsyncClient(timeout=30) as control:
        await control.post(f"{stack.sandbox_url}/_control", json={"success_delay": 0.05})
    load = Load()
    answers: list[tuple[float, float]] = []
    numbers = itertools.count(FIRST_NUMBERS[name] + (round_number - 1) * ROUND_NUMBERS)
    url = f"{stack.base_url}/api/v1/contests/{PAID_BY.contest}/votes"
    before, machine_before, load_before = {**cpu_seconds(stack), **more_cpu()}, machine_cpu_seconds(), os.getloadavg()
    started = time.time()
    deadline = started + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=voters),
                                     timeout=aiohttp.ClientTimeout(total=30)) as client:
        await asyncio.gather(*(timed_voter(client, url, numbers, deadline, load, answers) for _ in range(voters)))
    await wait_settled(stack, load.placed, timeout=60)
    after = {**cpu_seconds(stack), **more_cpu()}
    machine = (f"load average {' '.join(f'{v:.1f}' for v in load_before)} at the start, "
               f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} at the end; other processes took "
               f"{machine_share(machine_before, before, after, time.time() - started)}")
    figures = await measured(stack, load, started, deadline)
    spent = {kind: (after[kind] - before.get(kind, 0.0)) * 1000 / max(load.placed, 1) for kind in after}
    return Run(name, round_number, figures, [took for sent, took in answers if sent >= started + WARM_UP],
               {kind: value for kind, value in spent.items() if value >= 0.005}, machine)


async def verified_all(stack: Stack) -> None:
    if not await count_reaches_on(stack.database_url, BACKLOG, lambda waiting: waiting == 0, VERIFIED_WITHIN, every=1):
        raise AssertionError(f"status checks still waiting {VERIFIED_WITHIN:.0f} s after the last run")


def measured_run(name: str, stack: Stack, seconds: float, voters: int,
                 more_cpu: Callable[[], dict[str, float]] = dict, round_number: int = 1) -> Run:
    asyncio.run(verified_all(stack))
    return asyncio.run(closed_loop(name, stack, seconds, voters, more_cpu, round_number))


def warm_up(stack: Stack, seconds: float, voters: int) -> None:
    """An unmeasured closed loop first: the web processes' pools, PostgreSQL's backends and caches, the workers' first
    jobs are a start's cost, not a vote's (it would fall on whichever run came first)."""
    if seconds > 0:
        asyncio.run(closed_loop("warm-up", stack, seconds, voters, dict))


def patch_config(cluster: PostgresCluster, change: dict[str, object]) -> None:
    """Patroni's dynamic configuration changed through a node's REST API (what `patronictl edit-config` writes)."""
    request = urllib.request.Request(f"{cluster.rest_urls[0]}/config", data=json.dumps(change).encode(),
                                     method="PATCH", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200, answer.read()


def synchronous_standbys(cluster: PostgresCluster, leader: str) -> int:
    return int(psql(cluster, cluster.node_named(leader),
                    "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')"))


def set_synchronous(cluster: PostgresCluster, leader: str, on: bool) -> str:
    """synchronous_mode on (strict, as shipped: the template's synchronous_mode_strict stays) or off; returns once the
    primary lists one synchronous standby, or none (a commit waits for no one)."""
    patch_config(cluster, {"synchronous_mode": on})
    started, wanted = time.monotonic(), 1 if on else 0
    while synchronous_standbys(cluster, leader) != wanted:
        if time.monotonic() - started > SYNC_CHANGED_WITHIN:
            raise AssertionError(f"not {wanted} sync standby {SYNC_CHANGED_WITHIN:.0f} s after synchronous_mode {on}")
        time.sleep(0.5)
    names = psql(cluster, cluster.node_named(leader), "SHOW synchronous_standby_names")
    return (f"{'on' if on else 'off'} {time.monotonic() - started:.0f} s after the PATCH; pg_stat_replication: "
            f"{wanted} sync standby, synchronous_standby_names '{names}'")


@contextmanager
def running_cluster() -> Iterator[tuple[PostgresCluster, Balancer]]:
    """The suite's cluster (tests/failover/test_postgres_failover.py) with the deploy template's Patroni timings."""
    folder = Path(tempfile.mkdtemp(prefix="ballot-cluster-votes-", dir="/tmp"))
    try:
        with smallest_cluster(folder) as (cluster, balancer, _hosts):
            yield cluster, balancer
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def cluster_runs(seconds: float, voters: int, warm_seconds: float, rounds: int) -> tuple[list[Run], dict[str, str]]:
    """Strict synchronous mode, then off, `rounds` times, on one cluster and one service (alternating, so the shared
    machine's load drifting over minutes falls on both)."""
    notes: dict[str, str] = {}
    with running_cluster() as (cluster, balancer):
        leader = state(cluster).leader
        assert leader is not None
        env = {"DATABASE_URL": database_url(cluster, balancer)}
        with running_stack(extra_env=env) as stack:
            asyncio.run(PAID_BY.accept_on_contest(stack.database_url))
            node = cluster.node_named(leader.name)
            notes["cluster"] = (f"{psql(cluster, node, 'SHOW server_version')} (Debian), 3 nodes under Patroni on "
                                "loopback addresses, leader " + leader.name + ", 1 etcd, HAProxy (the service's "
                                "DATABASE_URL: its primary port); Patroni's timings as shipped (30/10/10)")
            sync = synchronous_standbys(cluster, leader.name)
            assert sync == 1, f"strict mode as shipped should list one sync standby, not {sync}"
            notes["(1) strict"] = (f"synchronous_mode strict, 1 sync standby in pg_stat_replication, "
                                   f"synchronous_commit {psql(cluster, node, 'SHOW synchronous_commit')}")
            cpu = functools.partial(cluster_cpu_seconds, cluster, leader.name)
            warm_up(stack, warm_seconds, voters)
            runs = []
            for round_number in range(1, rounds + 1):
                if round_number > 1:
                    set_synchronous(cluster, leader.name, on=True)
                runs.append(measured_run("strict", stack, seconds, voters, cpu, round_number))
                notes["(2) off"] = set_synchronous(cluster, leader.name, on=False)
                runs.append(measured_run("off", stack, seconds, voters, cpu, round_number))
            after = state(cluster).leader
            assert after is not None and after.name == leader.name, f"the leader changed during the runs: {after}"
    return runs, notes


def embedded_run(seconds: float, voters: int, warm_seconds: float) -> Run:
    with running_stack(sandbox_env=lambda sandbox_url: PAID_BY.environment(sandbox_url, None)) as stack:
        asyncio.run(PAID_BY.accept_on_contest(stack.database_url))
        warm_up(stack, warm_seconds, voters)
        return measured_run("embedded", stack, seconds, voters)


TITLES = {"strict": "(1) synchronous_mode strict", "off": "(2) synchronous replication off",
          "embedded": "(3) embedded single server, for context"}


def run_figures(run: Run, rounds: int) -> dict[str, str]:
    title = TITLES[run.name] + (f", round {run.round}" if rounds > 1 and run.name != "embedded" else "")
    cpu = sorted(run.cpu_ms.items(), key=lambda item: -item[1])
    return {
        f"{title}: confirmed votes/s (steady)": f"{run.rate:.1f} ({run.figures['orders placed']})",
        f"{title}: vote's answer (POST -> 201, after {WARM_UP:g} s)": (
            f"p50 {ms(percentile(run.answers, 50))}, p99 {ms(percentile(run.answers, 99))}, n={len(run.answers)}"),
        f"{title}: callback -> counted": run.figures[COUNTED],
        f"{title}: CPU per confirmed vote, ms": ", ".join(f"{kind} {value:.2f}" for kind, value in cpu)
        + f" (total {sum(run.cpu_ms.values()):.2f})",
        f"{title}: votes counted per commit": run.figures["votes counted per commit (group commit)"],
        f"{title}: errors, invariant": f"{run.figures['errors']}; tally invariant {run.figures['tally invariant']}",
        f"{title}: machine meanwhile": run.machine,
    }


def mean(values: Iterable[float]) -> float:
    found = list(values)
    return sum(found) / len(found) if found else float("nan")


def pooled(runs: list[Run]) -> Run:
    """One mode's runs as one: votes/s, CPU per vote by kind and callback -> counted's percentiles averaged over the
    runs (all of equal length), the answers' latencies pooled."""
    counted = [run.to_counted for run in runs]
    figures = {"_rate": str(mean(run.rate for run in runs)),
               COUNTED: f"p50 {mean(c[0] for c in counted):.1f} ms, p99 {mean(c[1] for c in counted):.1f} ms"}
    kinds = {kind for run in runs for kind in run.cpu_ms}
    return Run(runs[0].name, 0, figures, [took for run in runs for took in run.answers],
               {kind: mean(run.cpu_ms.get(kind, 0.0) for run in runs) for kind in kinds})


def by_round(strict: list[Run], off: list[Run]) -> str:
    """Each round's strict run against its off run: how far the rounds agree is the noise of the shared machine."""
    primary = "PostgreSQL primary"
    return "; ".join(
        f"round {s.round}: votes/s {change(o.rate, s.rate)}, CPU total "
        f"{change(sum(o.cpu_ms.values()), sum(s.cpu_ms.values()))}, {primary} "
        f"{change(o.cpu_ms.get(primary, 0.0), s.cpu_ms.get(primary, 0.0))}" for s, o in zip(strict, off, strict=True))


def difference(strict: Run, off: Run) -> dict[str, str]:
    """What strict synchronous mode adds (or takes), against the same cluster without it."""
    off50, off99 = (percentile(off.answers, p) * 1000 for p in (50, 99))
    strict50, strict99 = (percentile(strict.answers, p) * 1000 for p in (50, 99))
    kinds = sorted(set(strict.cpu_ms) | set(off.cpu_ms), key=lambda kind: -strict.cpu_ms.get(kind, 0.0))
    return {
        "strict against off: confirmed votes/s": change(off.rate, strict.rate),
        "strict against off: vote's answer, ms": f"p50 {change(off50, strict50)}, p99 {change(off99, strict99)}",
        "strict against off: callback -> counted, ms": (
            f"p50 {change(off.to_counted[0], strict.to_counted[0])}, "
            f"p99 {change(off.to_counted[1], strict.to_counted[1])}"),
        "strict against off: CPU per confirmed vote, ms": ", ".join(
            f"{kind} {change(off.cpu_ms.get(kind, 0.0), strict.cpu_ms.get(kind, 0.0))}" for kind in kinds)
        + f"; total {change(sum(off.cpu_ms.values()), sum(strict.cpu_ms.values()))}",
    }


SHARED = ("This machine's 2 cores are shared with another helper's heavy bench running at the same time (each run's "
          "load average and other processes' CPU above): votes/s and latencies move with it; CPU per vote is steadier.")


LOOPBACK = ("Every node is on this machine's loopback: the synchronous standby answers with no network between, so "
            "strict mode's cost here is CPU and scheduling; on a show's machines each commit also waits a round trip.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster_votes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--voters", type=int, default=64, help="concurrent synthetic voters (closed loop)")
    parser.add_argument("--warm-up", type=float, default=10, metavar="SECONDS",
                        help="an unmeasured closed loop on each service first")
    parser.add_argument("--rounds", type=int, default=1, help="strict then off, this many times on the cluster")
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded single server's run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    missing = missing_binaries()
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (apt-get install patroni etcd-server postgresql-15 haproxy)")
    runs, notes = cluster_runs(args.seconds, args.voters, args.warm_up, args.rounds)
    strict, off = ([run for run in runs if run.name == name] for name in ("strict", "off"))
    if not args.no_embedded:
        runs.append(embedded_run(args.seconds, args.voters, args.warm_up))
    figures = {"load": f"closed loop, {args.voters} voters, {args.seconds:g} s a run after {args.warm_up:g} s "
               f"unmeasured, {args.rounds} round(s) of strict then off (the differences: the rounds' means), each run "
               "once the status checks before it are done; MTN sandbox approving in 50 ms; "
               "the service as `gateway run` starts it (a web process per core, 2 RQ workers, embedded Redis)",
               **notes}
    for run in runs:
        figures.update(run_figures(run, args.rounds))
    figures.update(difference(pooled(strict), pooled(off)))
    if args.rounds > 1:
        figures["strict against off, round by round"] = by_round(strict, off)
    figures["shared machine"] = SHARED
    figures["loopback"] = LOOPBACK
    record("cluster-votes", print_report("cluster-votes: synchronous commit's cost per confirmed vote (Patroni)",
                                         figures))


if __name__ == "__main__":
    main()
