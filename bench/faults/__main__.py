"""Kill -9 in the middle of show night, then check that nothing was lost or counted twice.

    python -m bench.faults [web|worker|verify|all]
    python -m bench.faults hosts     # two hosts behind HAProxy, one killed whole (bench/faults/hosts.py)
    python -m bench.faults alerts    # each fault fires its alert in time (bench/faults/alerting.py; `make ops`)
    python -m bench.faults network [--only a,b,c,d]  # hosts with their own network, partitioned (as root)
    python -m bench.faults cluster [--only a,b,c,d,e] [--rounds 2] [--rate 100]  # Patroni and Sentinel failovers

Each scenario starts the whole stack (`gateway run`) and places votes through the JSON API while
the MTN sandbox approves them, then kills a process with SIGKILL at the worst moment:

- web: a web process in the middle of the burst, once callbacks are coming in, with prompts
  still going out;
- worker: every callback is lost (the sandbox drops them), so only the reconciler confirms
  votes; the RQ worker is killed in the middle of a reconciler pass, once it has confirmed some;
- verify: votes counted from their callbacks wait for their status check (MTN's cap, 10 a second);
  a web process is killed while that queue is long: the others verify every one, none is lost.

Then it waits for the supervisor to restart the process and the reconciler to catch up, and
checks: a process was killed and replaced, every order decided, every approved payment counted
once, the tally invariant, and a kept callback or a status check behind every paid order.

`alerts` watches the stack with Debian's Prometheus and Alertmanager, deploy/prometheus's own rules and routes,
while votes trickle in, and injects one fault at a time (bench/faults/injected.py): MTN's callbacks lost, MTN
declining every payment, MTN answering 429 to half of our requests, Redis frozen for a minute and then SIGKILLed,
the periodic jobs' worker SIGKILLed (no page is right) and then hung, and a second contest on air that nobody votes
in. Each must fire its alert within the time the rule itself promises, page nobody about anything else, and resolve
once removed; then the same checks on the votes placed meanwhile.

`network` (bench/faults/network/) gives each host a Linux network namespace of its own: two web/worker hosts
(`gateway run`, one web process and one worker each), PostgreSQL, Redis, HAProxy, the providers' sandbox
(`gateway stand-ins`) and the clients (voters, viewers, the checks), joined through a router namespace whose
forwarded packets pass a user-space link emulator (this kernel has no netem): 50 ms each way between hosts, 300 ms
and 1% loss each way to and from the providers. Then, one at a time, in a burst of votes with 100 viewers on the
board's stream through the balancer: (a) a web host cut from Redis, (b) a worker's host cut from PostgreSQL,
(c) a web host cut from everything (the balancer must take it out by /readyz), (d) the providers unreachable for
60 s (their callbacks arrive late, in a burst). After each mend: the checks above, `gateway ledger verify`, every
viewer on the final board, none saw it go back, and the times to recover. The namespaces are deleted at the end,
even after a failure or Ctrl-C; nothing of the machine's own network is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

import asyncpg

from bench.faults.alerting import alerts_scenario
from bench.faults.burst import (
    CALLBACKS_BEFORE_KILL,
    VOTES,
    callbacks_around,
    callbacks_kept,
    check,
    place_votes,
    sandbox,
)
from bench.faults.hosts import hosts_scenario, two_hosts
from bench.harness import Stack, _env_of, _processes, count_reaches, print_report, record, running_stack


def pids_of(stack: Stack, needle: str) -> list[int]:
    return [pid for pid, cmd in _processes() if needle in cmd and pid != os.getpid()
            and str(stack.data_dir) in _env_of(pid)]


def group_members(group: int) -> list[int]:
    """Processes still in that process group (what a killed child may have left running)."""
    members = []
    for pid, _ in _processes():
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(pid)
    return members


def kill(stack: Stack, needle: str, pid: int | None = None) -> tuple[int, float]:
    """SIGKILL one of the stack's processes (the first matching `needle`, or `pid`): its pid and when."""
    victims = [pid] if pid is not None else supervised(stack, needle)
    if not victims:
        raise RuntimeError(f"no {needle!r} process to kill: the scenario would prove nothing")
    os.kill(victims[0], signal.SIGKILL)
    print(f"  killed {needle!r} pid {victims[0]} with SIGKILL", flush=True)
    return victims[0], time.time()


def supervised(stack: Stack, needle: str) -> list[int]:
    """The supervisor's own children of that kind (not what they fork, e.g. RQ's scheduler)."""
    return [pid for pid in pids_of(stack, needle) if _state_and_parent(pid) == ("alive", stack.process.pid)]


async def replaced(stack: Stack, needle: str, killed: int, before: int, timeout: float = 30) -> bool:
    """Whether the supervisor has brought the killed process's kind back to its number."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len([pid for pid in supervised(stack, needle) if pid != killed]) >= before:
            return True
        await asyncio.sleep(0.5)
    return False


def _state_and_parent(pid: int) -> tuple[str, int]:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return "gone", 0
    return ("dead" if fields[0] == "Z" else "alive"), int(fields[1])


async def web_scenario(stack: Stack) -> dict[str, str]:
    """Kill a web process while prompts and callbacks are in flight."""
    needle = "assembly.cli web"
    # Callbacks arrive while the victim is busy, and every prompt takes MTN half a second to take:
    # the victim dies holding starts it has claimed, which only the reconciler can finish.
    await sandbox(stack, success_delay=0.3, answer_delay=0.5)
    before = len(supervised(stack, needle))
    burst = asyncio.create_task(place_votes(stack, VOTES))
    # Not at a fixed time: the first callbacks come a couple of seconds into the burst (connections,
    # starts, MTN's half second), and the kill must land while they are coming in.
    await callbacks_kept(stack, at_least=CALLBACKS_BEFORE_KILL, timeout=30)
    killed, killed_at = kill(stack, needle)
    during_burst = not burst.done()
    ids = await burst
    burst_ended = time.time()
    flowing = await callbacks_around(stack, killed_at)
    back = await replaced(stack, needle, killed, before)
    left_behind = group_members(killed)
    return await verdict(stack, ids, killed_at, {
        "process killed": f"web pid {killed}, {burst_ended - killed_at:.1f} s before the last vote was answered",
        "killed during the burst": during_burst,
        "callbacks coming in at the kill (the second before it)": flowing if flowing else "NO: none",
        "replaced by the supervisor": back,
        "nothing of the killed web process left running": not left_behind or f"NO: pids {left_behind}"})


async def worker_scenario(stack: Stack) -> dict[str, str]:
    """Kill the RQ worker that is running a reconciler pass, after the pass has confirmed some votes."""
    await sandbox(stack, success_delay=0.3, drop_callbacks=True)  # only the reconciler can confirm them
    ids = await place_votes(stack, VOTES)
    before = len(supervised(stack, "assembly.cli worker"))
    found = await reconciling_worker(stack, timeout=120)
    if found is None:
        return {"orders placed": str(len(ids)), "process killed": "none: no reconciler pass was seen",
                "verdict": "FAIL"}
    pid, paid_before = found
    killed, killed_at = kill(stack, "assembly.cli worker", pid)
    lease_left = await lease_milliseconds(stack)
    await sandbox(stack, drop_callbacks=False)
    back = await replaced(stack, "assembly.cli worker", killed, before)
    left_behind = group_members(killed)
    return await verdict(stack, ids, killed_at, {
        "process killed": f"RQ worker pid {killed}, in a reconciler pass ({paid_before} of {len(ids)} orders "
                          "confirmed so far)",
        "the killed pass held the reconciler's lease": (lease_left > 0 if lease_left <= 30_000 else
                                                        f"NO: {lease_left} ms left, longer than a lease"),
        "replaced by the supervisor": back,
        "nothing of the killed worker left running": not left_behind or f"NO: pids {left_behind}"})


async def lease_milliseconds(stack: Stack) -> int:
    from redis import Redis

    redis = Redis.from_url(stack.redis_url)
    try:
        return int(await asyncio.to_thread(redis.pttl, "lease:reconcile"))
    finally:
        redis.close()


async def reconciling_worker(stack: Stack, timeout: float) -> tuple[int, int] | None:
    """The pid of the worker running a reconciler pass once that pass has confirmed an order, and
    how many are paid by then (RQ keeps each worker's pid and current job in Redis)."""
    from redis import Redis
    from rq import Worker

    redis = Redis.from_url(stack.redis_url)
    connection = await asyncpg.connect(stack.database_url)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            paid = await connection.fetchval("SELECT count(*) FROM vote_orders WHERE status = 'paid'")
            total = await connection.fetchval("SELECT count(*) FROM vote_orders")
            if 0 < paid < total:
                for worker in await asyncio.to_thread(Worker.all, connection=redis):
                    job = await asyncio.to_thread(worker.get_current_job_id)
                    if job and job.startswith("periodic-reconcile-") and worker.pid:
                        return worker.pid, paid
            await asyncio.sleep(0.2)
        return None
    finally:
        await connection.close()
        redis.close()


async def verdict(stack: Stack, ids: list[str], killed_at: float, kill_figures: dict[str, object],
                  ) -> dict[str, str]:
    """The checks after the kill; every yes/no figure of the kill itself must be yes too."""
    if len(ids) < VOTES * 0.95:  # a scenario where voters could not vote proves nothing
        return {"orders placed": f"{len(ids)} of {VOTES}", "verdict": "FAIL"}
    figures = {key: ("yes" if value is True else "NO" if value is False else str(value))
               for key, value in kill_figures.items()}
    checked = await check(stack, len(ids), killed_at)
    kill_ok = all(value is not False and not str(value).startswith("NO") for value in kill_figures.values())
    recovered = int(checked["paid orders confirmed by the reconciler"]) > 0  # the kill did cut work short
    ok = checked.pop("verdict") == "PASS" and kill_ok and recovered
    return {**figures, **checked, "verdict": "PASS" if ok else "FAIL"}


VERIFY_SECONDS = 240  # 300 verifications at MTN's 10 status calls a second, with room for a dead checker's claims


async def verify_scenario(stack: Stack) -> dict[str, str]:
    """Kill a web process while votes counted from their callbacks wait for their status check: the queue is
    in PostgreSQL, so the other processes verify every one of them, none twice."""
    needle = "assembly.cli web"
    await sandbox(stack, success_delay=0.05)
    before = len(supervised(stack, needle))
    ids = await place_votes(stack, VOTES)
    connection = await asyncpg.connect(stack.database_url)
    try:
        verified = "SELECT count(*) FROM payment_verifications WHERE verified_at IS NOT NULL"
        await count_reaches(connection, verified, lambda done: done >= 20, timeout=60, every=0.2)
        waiting_at_kill = int(await connection.fetchval(
            "SELECT count(*) FROM payment_verifications WHERE verified_at IS NULL"))
        killed, killed_at = kill(stack, needle)
        back = await replaced(stack, needle, killed, before)
        await count_reaches(connection, "SELECT count(*) FROM payment_verifications WHERE verified_at IS NULL",
                            lambda left: left == 0, timeout=VERIFY_SECONDS, every=1)
        drained_in = time.time() - killed_at
        queued, unverified, outcomes = await connection.fetchrow(
            "SELECT count(*), count(*) FILTER (WHERE verified_at IS NULL), "
            "string_agg(DISTINCT coalesce(outcome, 'none'), ', ') FROM payment_verifications")
        uncovered = await connection.fetchval(
            "SELECT count(*) FROM vote_orders o WHERE o.status = 'paid' "
            "AND NOT EXISTS (SELECT 1 FROM payment_verifications v WHERE v.order_id = o.id)")
    finally:
        await connection.close()
    checked = await check(stack, len(ids), killed_at)
    ok = (checked.pop("verdict") == "PASS" and back and waiting_at_kill > 0 and unverified == 0 and uncovered == 0
          and outcomes == "agreed")
    return {
        "process killed": f"web pid {killed}, with {waiting_at_kill} callback-counted orders awaiting their check",
        "replaced by the supervisor": "yes" if back else "NO",
        **checked,
        "callback-counted orders verified": (f"{queued - unverified} of {queued}, the last {drained_in:.0f} s after "
                                             f"the kill; outcomes: {outcomes}"),
        "paid orders never queued for verification": str(uncovered),
        "verdict": "PASS" if ok else "FAIL",
    }


SCENARIOS = {"web": web_scenario, "worker": worker_scenario, "verify": verify_scenario}
TITLES = {"web": "fault: kill -9 of a web process during a burst of votes",
          "worker": "fault: kill -9 of an RQ worker in the middle of a reconciler pass (callbacks lost)",
          "verify": "fault: kill -9 of a web process while callback-counted votes await verification"}


def network(only: list[str] | None) -> int:
    from bench.faults.network.scenario import run_network

    if os.geteuid() != 0:
        raise SystemExit("bench.faults network makes network namespaces: run it as root")
    figures = run_network(only)
    report = print_report("fault: partitions between hosts with their own network, in a burst", figures)
    if not only:
        record("fault-network", report)
    return 0 if figures["verdict"] == "PASS" else 1


def cluster(only: list[str] | None, rounds: int, rate: float) -> int:
    """bench/faults/cluster/: Patroni's and Sentinel's failovers under load, Jepsen's check; recorded unless --only."""
    from bench.faults.cluster.faults import FAULTS
    from bench.faults.cluster.report import markdown, printed
    from bench.faults.cluster.scenario import Run, run_cluster

    if os.geteuid() != 0:
        raise SystemExit("bench.faults cluster makes network namespaces and runs PostgreSQL as its user: run as root")
    keys = [key for key in FAULTS if only is None or key in only]
    rows, figures = run_cluster(Run(rounds, keys, rate))
    printed(rows, figures)
    if not only:
        intro = (f"`sudo .venv/bin/python -m bench.faults cluster --rounds {rounds} --rate {rate:g}`: each fault "
                 f"{rounds} times, one at a time, under load; then the history against the final database.")
        heading = f"{rate:g} votes/s offered, each fault {rounds} times"
        record(f"fault-cluster-{rate:g}", markdown(rows, figures, heading, intro))
    return 0 if figures["verdict"] == "PASS" else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="?", default="all",
                        choices=[*SCENARIOS, "hosts", "alerts", "network", "cluster", "all"])
    parser.add_argument("--only", help="alerts: only the faults whose name holds one of these comma-separated words; "
                        "network: only these partitions, e.g. a,c (not recorded); cluster: only these faults")
    parser.add_argument("--rounds", type=int, default=2, help="cluster: how many times each fault")
    parser.add_argument("--rate", type=float, default=100, help="cluster: votes offered a second")
    args = parser.parse_args()
    if args.which == "cluster":  # not in "all": it needs root, Patroni, etcd, Redis Sentinel and HAProxy
        return cluster(args.only.lower().split(",") if args.only else None, args.rounds, args.rate)
    if args.which == "network":  # not in "all": it needs root (namespaces) and Debian's HAProxy
        return network(args.only.lower().split(",") if args.only else None)
    if args.which == "alerts":  # not in "all": it needs Debian's Prometheus (`make ops`)
        only = args.only.lower().split(",") if args.only else None
        with running_stack(web_processes=2, worker_processes=2) as stack:
            figures = asyncio.run(alerts_scenario(stack, only))
        report = print_report("fault: each injected fault fires its alert in time (Prometheus, production rules)",
                              figures)
        if not only:
            record("fault-alerts", report)
        return 0 if figures["verdict"] == "PASS" else 1
    if args.which == "hosts":  # not in "all": it needs Debian's HAProxy (`make balancer`)
        with two_hosts() as site:
            figures = asyncio.run(hosts_scenario(site))
        record("fault-hosts", print_report("fault: kill -9 of a whole host behind the balancer, in a burst", figures))
        return 0 if figures["verdict"] == "PASS" else 1
    chosen = list(SCENARIOS) if args.which == "all" else [args.which]
    failed = False
    for name in chosen:
        with running_stack(web_processes=2, worker_processes=2) as stack:
            figures = asyncio.run(SCENARIOS[name](stack))
        failed |= figures["verdict"] != "PASS"
        record(f"fault-{name}", print_report(TITLES[name], figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
