"""Voters through the public API during a database failover: each places a vote paid by MTN (the sandbox approves it
and calls the service back), then asks its order until the service says it was counted ("paid") or gave up on it.
What the service told them is kept: which orders it said were counted, and when each was placed."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import httpx

from bench.vote_providers import PROVIDERS, next_payer

PAID_BY = PROVIDERS["mtn"]  # the demo contest `gateway run` seeds, Cameroonian numbers
ASKED_FOR = 120.0  # how long a voter asks an order before giving up on it (a whole failover, on a loaded machine)


@dataclass
class Voters:
    base_url: str
    counted: dict[str, float] = field(default_factory=dict)  # order id: when it was placed (monotonic)
    refused: dict[str, int] = field(default_factory=dict)  # what the service answered instead of 201, how often
    placing: bool = True
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000))

    async def vote(self, client: httpx.AsyncClient) -> None:
        number = next_payer(self.numbers)
        placed_at = time.monotonic()
        # Each voter from an address of its own (the service reads X-Forwarded-For from loopback): the per-address
        # limit would otherwise count the test as one voter.
        forwarded = {"X-Forwarded-For": f"41.202.{number // 250 % 250}.{number % 250 + 1}"}
        try:
            answer = await client.post(f"{self.base_url}/api/v1/contests/{PAID_BY.contest}/votes",
                                       json=PAID_BY.vote(number), headers=forwarded)
        except httpx.HTTPError as exc:
            self.note(type(exc).__name__)
            return
        if answer.status_code != 201:
            self.note(f"HTTP {answer.status_code}")
            return
        order_id = str(answer.json()["order"]["id"])
        if await self.told_counted(client, order_id):
            self.counted[order_id] = placed_at

    async def told_counted(self, client: httpx.AsyncClient, order_id: str) -> bool:
        """Whether the service says the order was counted ("paid"), asked until it says anything but "pending"."""
        deadline = time.monotonic() + ASKED_FOR
        while time.monotonic() < deadline:
            try:
                answer = await client.get(f"{self.base_url}/api/v1/orders/{order_id}")
                if answer.status_code == 200 and answer.json()["status"] != "pending":
                    return bool(answer.json()["status"] == "paid")
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        self.note("still pending when the voter gave up")
        return False

    def note(self, what: str) -> None:
        self.refused[what] = self.refused.get(what, 0) + 1

    async def run(self, voters: int) -> None:
        """`voters` voters, each voting again as soon as its last vote is settled, until `placing` is False."""
        async with httpx.AsyncClient(timeout=10) as client:

            async def voter() -> None:
                while self.placing:
                    await self.vote(client)
                    await asyncio.sleep(0.05)

            await asyncio.gather(*(voter() for _ in range(voters)))

    def counted_placed_after(self, moment: float) -> int:
        return sum(1 for placed_at in self.counted.values() if placed_at > moment)

    async def until_counted_after(self, moment: float, timeout: float, what: str, at_least: int = 1) -> float:
        """Seconds from `moment` until `at_least` votes placed after it are counted; AssertionError after `timeout`."""
        while self.counted_placed_after(moment) < at_least:
            assert time.monotonic() - moment < timeout, (
                f"{what}: no vote placed since then counted within {timeout:.0f} s; "
                f"the service answered {self.refused}")
            await asyncio.sleep(0.1)
        return time.monotonic() - moment
