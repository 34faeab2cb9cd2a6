"""Many USSD sessions at once against a running service: the latency of every hop, and every error.

    python -m bench.ussd_load --url http://127.0.0.1:8080 --sessions 1000 [--path 1*07*5*1*1]
                              [--ramp SECONDS] [--think SECONDS]

Each session dials the service code and walks the path one hop at a time, as Africa's Talking does
("", "1", "1*07", "1*07*5", "1*07*5*1", "1*07*5*1*1"), from its own MSISDN (so the per-number order
limits never trip) and its own sessionId. By default all sessions start together and answer at once
(the worst case: every caller confirms in the same instant); --ramp spreads the starts over that many
seconds and --think pauses about that long between hops, as people reading a screen do. It prints
p50/p99/max per hop and the errors, and exits 0 only when every session ended on an order confirmation.

Localhost only; it stops by itself (each hop has AT's 15 s limit, the whole run --timeout seconds).
Target (bench/README.md): p99 < 50 ms per hop, no errors.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import math
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

ROUTE = "/ussd/africastalking"
DEFAULT_PATH = "1*07*5*1*1"
DEFAULT_CODE = "*384*123#"
HOP_TIMEOUT = 15.0  # AT gives up on a reply after ~15 s
LOCAL_NAMES = {"localhost"}
MTN_BLOCK = 10_000_000  # +23767XXXXXXX: seven free digits of Cameroon's MTN 67 block
SANDBOX_SUFFIXES = range(450, 456)  # the MTN/Orange sandboxes' magic endings (failed, rejected, pending…)


class NotLocal(ValueError):
    """This benchmark never sends traffic off the machine."""


@dataclass(frozen=True)
class Pace:
    ramp: float = 0.0  # sessions start uniformly within this many seconds
    think: float = 0.0  # mean pause between hops (uniform 0.5x-1.5x)

    def start_delay(self) -> float:
        return random.uniform(0, self.ramp) if self.ramp > 0 else 0.0

    def pause(self) -> float:
        return self.think * random.uniform(0.5, 1.5) if self.think > 0 else 0.0


@dataclass
class Hop:
    text: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class Report:
    url: str
    sessions: int
    seconds: float
    hops: list[Hop]
    confirmed: int  # sessions whose last screen confirmed an order
    unfinished: int = 0  # sessions cut by the run's time limit
    pace: Pace = field(default_factory=Pace)
    # How late this load generator's own loop ran a 10 ms timer: a hop is timed here, so a busy generator
    # adds its lateness to the service's latency.
    own_lag: list[float] = field(default_factory=list)

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for hop in self.hops:
            total.update(hop.errors)
        if self.unfinished:
            total["run_timeout"] += self.unfinished
        return total

    def figures(self) -> dict[str, str]:
        """Name -> value, the shape bench/harness.py prints and records."""
        rows = {f"hop {i} {hop.text or '(dial)'!r}": summary(hop.latencies) for i, hop in enumerate(self.hops)}
        errors = ", ".join(f"{name} {count}" for name, count in sorted(self.errors.items())) or "none"
        all_hops = [value for hop in self.hops for value in hop.latencies]
        pacing = (f"starts over {self.pace.ramp:g} s, ~{self.pace.think:g} s between hops"
                  if self.pace.ramp or self.pace.think else "all at once, no pause between hops")
        return {"sessions": f"{self.sessions} concurrent, {len(self.hops)} hops each, {pacing}",
                **rows, "all hops": summary(all_hops),
                "throughput": f"{len(all_hops) / self.seconds:.0f} hops/s over {self.seconds:.1f} s",
                "orders confirmed on screen": f"{self.confirmed}/{self.sessions}", "errors": errors,
                "load generator's own loop lag": summary(self.own_lag)}


async def watch_own_lag(lags: list[float], tick: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + tick
        await asyncio.sleep(tick)
        lags.append(max(0.0, loop.time() - due))


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    if not ordered:
        return "n=0"
    p50, p99 = percentile(ordered, 0.50), percentile(ordered, 0.99)
    return f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms, n={len(ordered)}"


def hop_texts(path: str) -> list[str]:
    """What AT sends, hop by hop: "", then every input so far joined by "*"."""
    parts = path.split("*") if path else []
    return ["", *("*".join(parts[:end]) for end in range(1, len(parts) + 1))]


def msisdns(count: int, start: int) -> list[str]:
    """Distinct valid MTN Cameroon numbers from offset `start`, skipping those the sandboxes treat as
    failures or never-approved (numbers ending 450-455), so every payment is an ordinary one."""
    numbers: list[str] = []
    offset = start
    while len(numbers) < count:
        if not 0 <= offset < MTN_BLOCK:
            raise ValueError(f"--msisdn-start leaves no room for {count} numbers below {MTN_BLOCK}")
        if offset % 1000 not in SANDBOX_SUFFIXES:
            numbers.append(f"+23767{offset:07d}")
        offset += 1
    return numbers


def check_local(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host in LOCAL_NAMES:
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise NotLocal(f"{url} is not on this machine: the USSD benchmark only targets localhost")


def classify(index: int, last: int, status: int, body: str) -> str | None:
    """The error a reply is, if any: each hop but the last must ask (CON), the last must confirm."""
    if status != 200:
        return f"http_{status}"
    if not body.startswith(("CON ", "END ")):
        return "no_con_end_prefix"
    if len(body) > 160:
        return "screen_over_160"
    if index < last and body.startswith("END "):
        return "ended_early"
    if index == last and not (body.startswith("END ") and "Ref " in body):
        return "no_order_confirmation"
    return None


async def walk(http: aiohttp.ClientSession, url: str, form: dict[str, str], hops: list[Hop], pace: Pace) -> bool:
    """One session; True when its last screen confirmed an order."""
    await asyncio.sleep(pace.start_delay())
    for index, hop in enumerate(hops):
        if index and (pause := pace.pause()):
            await asyncio.sleep(pause)
        started = time.perf_counter()
        try:
            async with http.post(url, data={**form, "text": hop.text}) as response:
                body = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            hop.errors[type(exc).__name__] += 1
            return False
        hop.latencies.append(time.perf_counter() - started)
        if (error := classify(index, len(hops) - 1, response.status, body)) is not None:
            hop.errors[error] += 1
            return False
    return True


async def run_load(url: str, sessions: int, *, path: str = DEFAULT_PATH, service_code: str = DEFAULT_CODE,
                   msisdn_start: int | None = None, timeout: float = 300.0, pace: Pace = Pace()) -> Report:
    """Run `sessions` concurrent sessions walking `path`; stops after `timeout` seconds at the latest."""
    check_local(url)
    hops = [Hop(text) for text in hop_texts(path)]
    start = random.randrange(MTN_BLOCK - 2 * sessions) if msisdn_start is None else msisdn_start
    run_id = uuid.uuid4().hex[:8]
    target = url.rstrip("/") + ROUTE
    connector = aiohttp.TCPConnector(limit=sessions, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=HOP_TIMEOUT)
    began = time.perf_counter()
    own_lag: list[float] = []
    lag_watch = asyncio.ensure_future(watch_own_lag(own_lag))
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as http:
        tasks = [asyncio.ensure_future(walk(http, target, {
            "sessionId": f"BENCH-{run_id}-{i}", "serviceCode": service_code, "phoneNumber": number,
            "networkCode": "62401"}, hops, pace)) for i, number in enumerate(msisdns(sessions, start))]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    lag_watch.cancel()
    confirmed = sum(1 for task in done if task.result())
    return Report(url, sessions, time.perf_counter() - began, hops, confirmed, unfinished=len(pending), pace=pace,
                  own_lag=own_lag)


def render(report: Report) -> str:
    lines = [f"USSD load against {report.url}"]
    lines += [f"  {name}: {value}" for name, value in report.figures().items()]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ussd_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the service's base URL (localhost only)")
    parser.add_argument("--sessions", type=int, default=1000, help="concurrent sessions (default 1000)")
    parser.add_argument("--path", default=DEFAULT_PATH, help=f"the inputs each session sends (default {DEFAULT_PATH})")
    parser.add_argument("--service-code", default=DEFAULT_CODE)
    parser.add_argument("--msisdn-start", type=int, help="first number's offset in +23767XXXXXXX (default: random)")
    parser.add_argument("--ramp", type=float, default=0.0, help="spread session starts over this many seconds")
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds between a screen and the next input")
    parser.add_argument("--timeout", type=float, default=300.0, help="stop the whole run after this many seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sessions < 1:
        print("ussd_load: --sessions must be at least 1", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(run_load(args.url, args.sessions, path=args.path, service_code=args.service_code,
                                      msisdn_start=args.msisdn_start, timeout=args.timeout,
                                      pace=Pace(args.ramp, args.think)))
    except (NotLocal, ValueError) as exc:
        print(f"ussd_load: {exc}", file=sys.stderr)
        return 2
    print(render(report))
    return 0 if not report.errors and report.confirmed == report.sessions else 1


if __name__ == "__main__":
    sys.exit(main())
