"""Faults injected one at a time into a stack with votes trickling in, watched by the production alert rules: each
must fire its alert within the time the rule itself promises (`watching.promise`), page nobody about anything else,
and resolve once the fault is gone; afterwards every vote placed meanwhile is counted once.

The faults: MTN's callbacks lost (the sandbox drops them: only the reconciler's status checks confirm votes);
Redis SIGKILLed (started again here: nothing supervises the embedded one); the worker that runs the periodic jobs
SIGKILLed (the supervisor replaces it: no page is right) and then hung (SIGSTOP of its process group, which no
supervisor notices; SIGCONT ends it); and MTN answering 429 to half of our requests (the sandbox's throttle_share).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from assembly.machine.embedded import EmbeddedRedis
from bench.faults.burst import check
from bench.faults.injected import Fault, faults, other_contests_off_air
from bench.faults.watching import Pages, Watch, firing, jobs_reading, pages_listener, promise, watched
from bench.harness import ROOT, Stack, free_port

RUNBOOK_FILE = ROOT / "docs" / "show-night.md"


def runbook_sections() -> dict[str, str]:
    """Each alert's section of the runbook (a `### `Alert`` heading up to the next heading)."""
    sections: dict[str, str] = {}
    for part in re.split(r"^#+ ", RUNBOOK_FILE.read_text(), flags=re.MULTILINE):
        heading, _, body = part.partition("\n")
        for name in re.findall(r"`(\w+)`", heading):
            sections[name] = body
    return sections


RUNBOOK = runbook_sections()
VOTES_PER_SECOND = 2.0
WARM_UP_SECONDS = 240  # the longest quiet the baseline waits for: rate windows filled, a WAL segment archived
POLL_SECONDS = 1.0


class Trickle:
    """Votes through the JSON API at a steady rate, each from its own phone and address, each tried again (the
    same Idempotency-Key) while the service cannot take it, as a voter's phone would."""

    def __init__(self, stack: Stack, per_second: float) -> None:
        self.stack, self.per_second = stack, per_second
        self.ids: list[str] = []
        self.given_up = 0
        self.stop = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.stack.base_url, timeout=10) as client:
            voting: set[asyncio.Task[None]] = set()
            number = 0
            while not self.stop.is_set():
                number += 1
                if 450 <= number % 1000 <= 457:  # the sandbox's magic numbers that fail or disagree
                    continue
                task = asyncio.create_task(self.vote(client, number))
                voting.add(task)
                task.add_done_callback(voting.discard)
                await asyncio.sleep(1 / self.per_second)
            await asyncio.gather(*voting)

    async def vote(self, client: httpx.AsyncClient, number: int) -> None:
        deadline = time.time() + 180
        while time.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.post("/api/v1/contests/demo/votes", json={
                    "candidate": f"{number % 8 + 1:02d}", "quantity": 1 + number % 3, "provider": "mtn",
                    "msisdn": f"+23767{number:07d}"}, headers={
                        "Idempotency-Key": f"alerts-{number}",
                        "X-Forwarded-For": f"41.202.{number // 250 % 250}.{number % 250 + 1}"})
                if response.status_code == 201:
                    self.ids.append(str(response.json()["order"]["id"]))
                    return
            await asyncio.sleep(1)
        self.given_up += 1


def matches(alert: dict[str, Any], name: str, labels: dict[str, str]) -> bool:
    return bool(alert["labels"]["alertname"] == name and all(alert["labels"].get(k) == v for k, v in labels.items()))


@dataclass
class Timeline:
    """When each alert was seen firing in Prometheus, in seconds after the fault's injection."""

    started: float
    seen: dict[str, list[float]] = field(default_factory=dict)  # alert name -> [first, last]

    async def look(self, client: httpx.AsyncClient, watch: Watch) -> list[dict[str, Any]]:
        now = await firing(client, watch)
        moment = time.time() - self.started
        for alert in now:
            self.seen.setdefault(alert["labels"]["alertname"], [moment, moment])[1] = moment
        return now

    def told(self) -> str:
        return ", ".join(f"{name} +{first:.0f}…{last:.0f} s" for name, (first, last) in sorted(self.seen.items()))


async def run_fault(client: httpx.AsyncClient, watch: Watch, pages: Pages, fault: Fault, watched_alert: str,
                    ) -> dict[str, str]:
    """Inject, wait for the alert (or, for a fault that must page nobody, as long as the alert it could wrongly
    fire promises), remove, wait for the resolution; with what else paged meanwhile."""
    told = promise(watch, watched_alert, await jobs_reading(client, watch, watched_alert))
    timeline = Timeline(time.time())
    done = await fault.inject()
    print(f"  {fault.name}: {done}; waiting up to {told.seconds * 1.5:.0f} s", flush=True)
    try:  # never left injected (a Redis or a worker left SIGSTOPped would hang the stack's own stop)
        fired_at = await fired_within(client, watch, fault, timeline,
                                      told.seconds * 1.5 if fault.alert else told.seconds)
    finally:
        removed_at = time.time()
        undone = await fault.remove()
    resolved_at = None
    while fault.alert and time.time() < removed_at + fault.resolves_within:
        if not any(matches(alert, fault.alert, fault.labels) for alert in await timeline.look(client, watch)):
            resolved_at = time.time() - removed_at
            break
        await asyncio.sleep(POLL_SECONDS)
    left = await quiet(client, watch, 180, timeline)
    others = [(moment - timeline.started, name) for moment, name, _ in pages.since(timeline.started)
              if name != fault.alert]
    # A page the runbook explains by this fault's alert (its section sends the operator there) is one of its
    # consequences; any other is a false alarm.
    explained = [(moment, name) for moment, name in others
                 if fault.alert and f"`{fault.alert}`" in RUNBOOK.get(name, "")]
    others = [page for page in others if page not in explained]
    if fault.alert is None:
        ok = not others and watched_alert not in timeline.seen
        fired = f"none, as it should ({watched_alert} would have fired within {told.seconds:.0f} s)"
    else:
        ok = fired_at is not None and fired_at <= told.seconds and resolved_at is not None and not others
        fired = (f"{fault.alert} after {fired_at:.0f} s" if fired_at is not None else
                 f"{fault.alert} NOT within {told.seconds * 1.5:.0f} s")
        fired += f" (promised ≤ {told.seconds:.0f} s: {told.parts})"
    return {
        "fault": f"{done}; {removed_at - timeline.started:.0f} s later: {undone}",
        "fired": fired,
        "resolved": (f"{resolved_at:.0f} s after the fault was removed" if resolved_at is not None
                     else "—" if fault.alert is None else f"NOT within {fault.resolves_within:.0f} s"),
        "paged besides": ", ".join(f"{name} at +{moment:.0f} s" for moment, name in others) or "nobody",
        **({"paged besides, its consequences by the runbook": ", ".join(f"{name} at +{moment:.0f} s"
                                                                         for moment, name in explained)}
           if explained else {}),
        "firing in Prometheus (seconds after the injection)": timeline.told() or "nothing",
        "quiet again": "yes" if not left else "NO: " + ", ".join(left),
        "verdict": "PASS" if ok and not left else "FAIL",
    }


async def fired_within(client: httpx.AsyncClient, watch: Watch, fault: Fault, timeline: Timeline, seconds: float,
                       ) -> float | None:
    """Seconds from the injection to the fault's alert firing, if it did within `seconds`; then as long as the fault
    must last (a freeze of a minute lasts its minute, paged or not)."""
    fired_at = None
    while time.time() < timeline.started + seconds:
        now = await timeline.look(client, watch)
        if fault.alert and any(matches(alert, fault.alert, fault.labels) for alert in now):
            fired_at = time.time() - timeline.started
            break
        await asyncio.sleep(POLL_SECONDS)
    while time.time() < timeline.started + fault.lasts:
        await timeline.look(client, watch)
        await asyncio.sleep(POLL_SECONDS)
    return fired_at


def chosen_now(fault: Fault, only: list[str] | None) -> bool:
    return not only or any(word in fault.name.lower() for word in only)


async def quiet(client: httpx.AsyncClient, watch: Watch, timeout: float, timeline: Timeline | None = None,
                ) -> list[str]:
    """Wait until no alert is firing or pending (up to `timeout`); what still is."""
    deadline = time.time() + timeout
    while True:
        if timeline is not None:
            await timeline.look(client, watch)
        alerts = (await client.get(f"{watch.prometheus}/api/v1/alerts")).json()["data"]["alerts"]
        if not alerts or time.time() > deadline:
            return sorted(f"{alert['labels']['alertname']} ({alert['state']})" for alert in alerts)
        await asyncio.sleep(POLL_SECONDS)


async def callbacks_seen(client: httpx.AsyncClient, watch: Watch, stack: Stack) -> str:
    """The measured figures as Prometheus saw them against PostgreSQL's truth: the web processes share one address
    (SO_REUSEPORT), a scrape reaches whichever the kernel picks, and each answers with the sum over them all."""
    query = "sum(gateway_callback_to_tally_seconds_count)"
    result = (await client.get(f"{watch.prometheus}/api/v1/query", params={"query": query})).json()["data"]["result"]
    seen = float(result[0]["value"][1]) if result else 0.0
    connection = await asyncpg.connect(stack.database_url)
    try:
        counted = int(await connection.fetchval("SELECT count(*) FROM payment_verifications"))
    finally:
        await connection.close()
    processes = len(stack.web_pids())
    return f"{seen:.0f} of the {counted} orders counted on a callback ({processes} web processes, one address)"


async def alerts_scenario(stack: Stack, only: list[str] | None = None) -> dict[str, str]:
    restarted: list[EmbeddedRedis] = []
    pages_port = free_port()
    try:
        async with pages_listener(pages_port) as pages, httpx.AsyncClient(timeout=10) as client:
            with watched(stack, pages_port) as watch:
                return await watched_run(stack, watch, pages, client, faults(stack, restarted), only)
    finally:
        for server in restarted:
            server.stop()


async def watched_run(stack: Stack, watch: Watch, pages: Pages, client: httpx.AsyncClient, chosen: list[Fault],
                      only: list[str] | None) -> dict[str, str]:
    figures: dict[str, str] = {
        "watching": f"Prometheus (deploy/prometheus/rules.yml; its prometheus.yml's intervals, every job but "
                    f"{', '.join(watch.left_out) or 'none'} left out), Alertmanager (alertmanager.yml)",
        "votes": f"{VOTES_PER_SECOND:g} a second through the JSON API, MTN, all the time"}
    paused = await other_contests_off_air(stack)
    figures["other contests"] = f"paused, nobody votes in them here: {', '.join(paused) or 'none'}"
    trickle = Trickle(stack, VOTES_PER_SECOND)
    voting = asyncio.create_task(trickle.run())
    began = time.time()
    await asyncio.sleep(60)  # the rate windows need votes in them
    still = await quiet(client, watch, WARM_UP_SECONDS)
    figures["before any fault"] = (f"quiet after {time.time() - began:.0f} s" if not still
                                   else "still firing or pending: " + ", ".join(still))
    ok = not still
    last_removed = time.time()
    watched_alerts = {None: "PeriodicPassSilent"}  # what a fault that must page nobody could wrongly fire
    for number, fault in enumerate(chosen, 1):
        if not chosen_now(fault, only):
            continue
        result = await run_fault(client, watch, pages, fault, fault.alert or watched_alerts[None])
        last_removed = time.time()
        ok &= result.pop("verdict") == "PASS"
        for key, value in result.items():
            figures[f"{number}. {fault.name}: {key}"] = value
    trickle.stop.set()
    await voting
    figures["votes placed"] = f"{len(trickle.ids)} orders in {time.time() - began:.0f} s ({trickle.given_up} given up)"
    figures["callbacks counted, as Prometheus saw them"] = await callbacks_seen(client, watch, stack)
    checked = await check(stack, len(trickle.ids), last_removed,
                          declines=any("declines" in fault.name for fault in chosen if chosen_now(fault, only)))
    checked["every order decided"] = checked["every order decided"].replace("the kill", "the last fault's end")
    ok &= checked.pop("verdict") == "PASS" and trickle.given_up == 0
    figures.update(checked)
    figures["verdict"] = "PASS" if ok else "FAIL"
    return figures
