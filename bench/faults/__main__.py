"""Kill -9 in the middle of show night, then check that nothing was lost or counted twice.

    python -m bench.faults [web|worker|all]

Each scenario starts the whole stack (`gateway run`), places votes through the JSON API while the
MTN sandbox approves them, kills a process with SIGKILL at the worst moment, waits for the
supervisor to restart it and the reconciler to catch up, then checks: every order decided, every
approved payment counted once, the tally invariant, and a kept event for every callback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable

import asyncpg
import httpx

from bench.harness import Stack, _processes, print_report, record, running_stack

VOTES = 300
# The reconciler's first check comes 30 s after an order, then backs off; a start claimed by the killed
# web process is restarted once its lease (payment_flow.START_LEASE, 120 s) runs out.
SETTLE_SECONDS = 210


def pids_of(stack: Stack, needle: str) -> list[int]:
    return [pid for pid, cmd in _processes() if needle in cmd and pid != os.getpid()
            and str(stack.data_dir) in open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")]


async def place_votes(stack: Stack, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30,
                                 limits=httpx.Limits(max_connections=32)) as client:
        async def one(i: int) -> str | None:
            for _ in range(20):  # a killed web process drops some requests: a voter tries again
                try:
                    response = await client.post("/api/v1/contests/demo/votes", json={
                        "candidate": f"{i % 8 + 1:02d}", "quantity": 1 + i % 3, "provider": "mtn",
                        "msisdn": f"+23767{i:07d}"}, headers={
                            "Idempotency-Key": f"fault-{i}",
                            # each voter from their own address, through our proxy (else the
                            # per-address vote limit refuses all but the first 30)
                            "X-Forwarded-For": f"41.202.{i // 250 % 250}.{i % 250 + 1}"})
                    if response.status_code == 201:
                        return str(response.json()["order"]["id"])
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            return None

        ids = await asyncio.gather(*(one(i) for i in range(1, count + 1) if not 450 <= i % 1000 <= 455))
    return [i for i in ids if i]


async def check(stack: Stack, expected: int) -> dict[str, str]:
    connection = await asyncpg.connect(stack.database_url)
    try:
        deadline = time.time() + SETTLE_SECONDS
        while time.time() < deadline:
            pending = await connection.fetchval("SELECT count(*) FROM vote_orders WHERE status = 'pending'")
            if pending == 0:
                break
            await asyncio.sleep(2)
        statuses = dict(await connection.fetch("SELECT status::text, count(*) FROM vote_orders GROUP BY status"))
        invariant = await connection.fetchval("""
            SELECT bool_and(t.votes = coalesce(p.n, 0)) FROM tallies t LEFT JOIN (
              SELECT candidate_id, sum(quantity) n FROM vote_orders WHERE status = 'paid' GROUP BY candidate_id
            ) p ON p.candidate_id = t.candidate_id""")
        unexplained = await connection.fetchval("""
            SELECT count(*) FROM vote_orders o WHERE o.status = 'paid'
              AND NOT EXISTS (SELECT 1 FROM provider_events e WHERE e.order_id = o.id)
              AND o.last_checked_at IS NULL""")
    finally:
        await connection.close()
    paid = statuses.get("paid", 0)
    ok = invariant and paid == expected and sum(statuses.values()) == expected
    return {
        "orders placed": str(expected),
        "final statuses": ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        "every approved payment counted once": "yes" if paid == expected else f"NO ({paid} of {expected})",
        "tally invariant": "holds" if invariant else "BROKEN",
        "paid without a callback or a check": str(unexplained),
        "verdict": "PASS" if ok and unexplained == 0 else "FAIL",
    }


def kill_after(stack: Stack, needle: str, delay: float) -> Callable[[], None]:
    def kill() -> None:
        time.sleep(delay)
        victims = pids_of(stack, needle)
        if victims:
            os.kill(victims[0], signal.SIGKILL)
            print(f"  killed {needle!r} pid {victims[0]} with SIGKILL", flush=True)
    return kill


async def scenario(stack: Stack, needle: str) -> dict[str, str]:
    async with httpx.AsyncClient() as control:  # callbacks arrive while the victim is busy
        await control.post(f"{stack.sandbox_url}/_control", json={"success_delay": 0.3})
    killer = asyncio.get_running_loop().run_in_executor(None, kill_after(stack, needle, 1.5))
    ids = await place_votes(stack, VOTES)
    await killer
    if len(ids) < VOTES * 0.95:  # a scenario where voters could not vote proves nothing
        return {"orders placed": f"{len(ids)} of {VOTES}", "verdict": "FAIL"}
    return await check(stack, len(ids))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="?", default="all", choices=["web", "worker", "all"])
    args = parser.parse_args()
    targets = {"web": "gateway.cli web", "worker": "gateway.cli worker"}
    chosen = targets if args.which == "all" else {args.which: targets[args.which]}
    failed = False
    for name, needle in chosen.items():
        with running_stack(web_processes=2, worker_processes=2) as stack:
            figures = asyncio.run(scenario(stack, needle))
        failed |= figures["verdict"] != "PASS"
        record(f"fault-{name}", print_report(f"fault: kill -9 of a {name} process during a burst of votes", figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
