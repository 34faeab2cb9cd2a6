"""The load all through the run: the rehearsal's voters (assembly/operations/rehearsal/load.py: the JSON API, Africa's
Talking's USSD and inbound SMS, each vote from a number of its own) offered open loop at a fixed rate whatever the
answers' pace, each vote's answer noted with when it was asked and answered; and viewers on the board's stream through
the balancer, reconnecting as a browser's EventSource does (bench/faults/hosts.py's `Viewer`), each frame's arrival
timed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import SupportsIndex

import aiohttp
import httpx

from assembly.operations.rehearsal.load import CHANNELS, Refused, Told, Vote, Voter, gave_up, msisdn
from bench.faults.cluster.history import Asked
from bench.faults.hosts import Viewer

ANSWER_WITHIN = 20.0  # the client's patience: a phone's USSD session gives up sooner, a browser about then


class TimedVersions(list[int]):
    """A viewer's board versions, each noted with when it arrived (the viewer appends each frame's id)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[float] = []

    def append(self, version: SupportsIndex) -> None:
        self.arrived.append(time.time())
        super().append(int(version))


@dataclass
class Load:
    voter: Voter
    rate: float  # votes a second, round the channels
    history: list[Asked] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # channel -> why it is not offered
    offered: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    first_number: int = 0

    async def cast(self, http: aiohttp.ClientSession, channel: str, number: int) -> None:
        asked_at = time.time()
        try:
            told, said = await CHANNELS[channel](http, self.voter, number)
        except Refused as refused:
            self.skipped.setdefault(channel, f"not set up here (answered {refused})")
            return
        except (aiohttp.ClientError, TimeoutError) as exc:
            told, said = Told.NO_ANSWER, gave_up(exc)
        self.history.append(Asked(Vote(channel, msisdn(number), told, said), asked_at, time.time()))

    async def run(self) -> None:
        """Until `stop`; then waits for the votes still unanswered (at most ANSWER_WITHIN)."""
        pending: set[asyncio.Task[None]] = set()
        timeout = aiohttp.ClientTimeout(total=ANSWER_WITHIN)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http:
            due, number = time.monotonic(), self.first_number
            while not self.stop.is_set():
                live = [name for name in CHANNELS if name not in self.skipped]
                if not live:
                    break
                task = asyncio.create_task(self.cast(http, live[number % len(live)], number))
                pending.add(task)
                task.add_done_callback(pending.discard)
                number += 1
                self.offered += 1
                due += 1 / self.rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            await asyncio.gather(*pending)


@dataclass
class Audience:
    """Viewers on the board's stream through the balancer, each from an address of its own."""

    base_url: str
    viewers: list[Viewer]
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def of(cls, base_url: str, count: int) -> Audience:
        viewers = []
        for i in range(count):
            viewer = Viewer(f"102.246.{i // 250}.{i % 250 + 1}")
            viewer.versions = TimedVersions()
            viewers.append(viewer)
        return cls(base_url, viewers)

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=len(self.viewers) + 10, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits,
                                     timeout=httpx.Timeout(None, connect=5)) as client:
            watching = [asyncio.create_task(viewer.watch(client, self.stop)) for viewer in self.viewers]
            await self.stop.wait()
            for task in watching:
                task.cancel()
            await asyncio.gather(*watching, return_exceptions=True)

    def arrivals(self) -> list[list[float]]:
        return [list(getattr(viewer.versions, "arrived", [])) for viewer in self.viewers]

    def went_back(self) -> int:
        return sum(1 for viewer in self.viewers if viewer.went_back())
