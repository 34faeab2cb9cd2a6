"""What every fault scenario does around its kill: a burst of votes through the JSON API, the sandbox's switches,
the callbacks coming in, and the checks once everything settled (shared by `bench.faults` and its hosts scenario)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx

from bench.harness import PENDING_ORDERS, Stack, count_reaches

VOTES = 300
# The reconciler's first check comes 30 s after an order, then backs off; a start claimed by the killed
# web process is restarted once its lease (gateway.core.money_in.starting.START_LEASE, 120 s) runs out.
SETTLE_SECONDS = 300  # 184 s seen at 688c2ad: the lease, then the reconciler's back-off


async def place_votes(stack: Stack, count: int, first: int = 1,
                      answered: list[tuple[float, float]] | None = None) -> list[str]:
    """`count` votes, voters `first` onwards (a later burst on the same stack takes voters of its own); `answered`
    gets each placed vote's first try (epoch seconds) and the seconds until its 201, retries included."""
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30,
                                 limits=httpx.Limits(max_connections=32)) as client:
        async def one(i: int) -> str | None:
            started = time.time()
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
                        if answered is not None:
                            answered.append((started, time.time() - started))
                        return str(response.json()["order"]["id"])
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            return None

        ids = await asyncio.gather(*(one(i) for i in voters(first, count)))
    return [i for i in ids if i]


def voters(first: int, count: int) -> list[int]:
    """The voters of a burst: numbers 450 to 455 of each thousand are left out."""
    return [i for i in range(first, first + count) if not 450 <= i % 1000 <= 455]


async def check(stack: Stack, expected: int, killed_at: float, declines: bool = False) -> dict[str, str]:
    """`declines`: the provider was told to decline payments for a while (the sandbox's `decline_share`), so a failed
    order is its word, not a loss: every order is then either paid, counted once, or failed. Otherwise every order
    placed was approved and must be paid."""
    connection = await asyncpg.connect(stack.database_url)
    try:
        await count_reaches(connection, PENDING_ORDERS, lambda pending: pending == 0,
                            timeout=killed_at + SETTLE_SECONDS - time.time(), every=1)
        settled_in = time.time() - killed_at
        statuses = dict(await connection.fetch("SELECT status::text, count(*) FROM vote_orders GROUP BY status"))
        invariant = await connection.fetchval("""
            SELECT bool_and(t.votes = coalesce(p.n, 0)) FROM tallies t LEFT JOIN (
              SELECT candidate_id, sum(quantity) n FROM vote_orders WHERE status = 'paid' GROUP BY candidate_id
            ) p ON p.candidate_id = t.candidate_id""")
        unexplained = await connection.fetchval("""
            SELECT count(*) FROM vote_orders o WHERE o.status = 'paid'
              AND NOT EXISTS (SELECT 1 FROM provider_events e WHERE e.order_id = o.id)
              AND o.last_checked_at IS NULL""")
        by_reconciler = await connection.fetchval(
            "SELECT count(*) FROM vote_orders WHERE status = 'paid' AND last_checked_at IS NOT NULL")
        tallied = dict(await connection.fetch("""
            SELECT c.code, t.votes FROM tallies t JOIN candidates c ON c.id = t.candidate_id
              JOIN contests k ON k.id = c.contest_id WHERE k.slug = 'demo'"""))
        board = await board_settled(stack, connection)
        undelivered = await connection.fetchval("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
    finally:
        await connection.close()
    paid = statuses.get("paid", 0)
    declined = statuses.get("failed", 0) if declines else 0
    approved = expected - declined
    on_board = {row["code"]: row["votes"] for row in board["candidates"]}
    board_ok = all(on_board.get(code, 0) == votes for code, votes in tallied.items())
    ok = invariant and paid == approved and sum(statuses.values()) == expected and board_ok and not undelivered
    return {
        "orders placed": str(expected),
        "final statuses": ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        "every order decided": (f"{settled_in:.0f} s after the kill" if not statuses.get("pending")
                                else f"NO, {statuses['pending']} still pending after {SETTLE_SECONDS} s"),
        "every approved payment counted once": ("yes" if paid == approved else f"NO ({paid} of {approved})")
        + (f" ({declined} declined by the provider while told to)" if declines else ""),
        "tally invariant": "holds" if invariant else "BROKEN",
        "paid orders confirmed by the reconciler": str(by_reconciler),
        "paid without a callback or a check": str(unexplained),
        "public board equals the tallies": "yes" if board_ok else f"NO (board {on_board}, tallies {tallied})",
        "outbox rows never delivered": str(undelivered),
        "verdict": "PASS" if ok and unexplained == 0 else "FAIL",
    }


async def board_settled(stack: Stack, connection: asyncpg.Connection, timeout: float = 15) -> dict[str, Any]:
    """The public board once the relay has caught up with the last confirmation (or after `timeout`)."""
    deadline = time.time() + timeout
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        while True:
            waiting = await connection.fetchval("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
            if not waiting or time.time() > deadline:  # a delivered row's board refresh is done
                return dict((await client.get("/api/v1/contests/demo/leaderboard")).json())
            await asyncio.sleep(0.5)


async def sandbox(stack: Stack, **switches: object) -> None:
    async with httpx.AsyncClient() as control:
        (await control.post(f"{stack.sandbox_url}/_control", json=switches)).raise_for_status()


CALLBACKS_BEFORE_KILL = 20


async def callbacks_kept(stack: Stack, at_least: int, timeout: float) -> None:
    """Wait until that many callbacks have been kept (then callbacks are coming in)."""
    connection = await asyncpg.connect(stack.database_url)
    try:
        if await count_reaches(connection, "SELECT count(*) FROM provider_events WHERE kind LIKE 'callback.%'",
                               lambda kept: kept >= at_least, timeout, every=0.05):
            return
    finally:
        await connection.close()
    raise RuntimeError(f"fewer than {at_least} callbacks in {timeout} s: the scenario would prove nothing")


async def callbacks_around(stack: Stack, moment: float) -> int:
    """Callbacks kept in the second before `moment`: callbacks were in flight when the process died."""
    connection = await asyncpg.connect(stack.database_url)
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM provider_events WHERE kind LIKE 'callback.%' "
            "AND received_at BETWEEN to_timestamp($1::float8 - 1) AND to_timestamp($1::float8)", moment))
    finally:
        await connection.close()


