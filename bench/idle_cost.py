"""What waking from idle costs on this machine: the same work's CPU done back to back, and after a rest.

A process that waits on the network between votes (a web process below its capacity, PostgreSQL's backend between
two statements) comes back to caches that the machine's other work has emptied, and pays for being woken. On a
virtual machine whose cores the host shares with others, that can double the CPU the same code spends. `bench.votes`
at several offered rates shows the service's CPU per vote falling as its load rises; this shows the machine's part
of that, with none of the service's I/O:

- a web vote's own parsing (its JSON body read as the API's `VoteRequest`, the payer's number parsed and written as
  E.164 by phonenumbers; 20 of them a unit), back to back and after 1, 5 and 20 ms of sleep: the thread's CPU a unit;
- a loopback TCP round trip between two processes (32 bytes each way, TCP_NODELAY), as fast as it goes, then paced at
  2,000, 500 and 100 a second: the CPU both processes spent a round trip, the pacing's own sleeps included.

    python -m bench.idle_cost [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import time
from statistics import median

import phonenumbers

from bench.floor import process_cpu
from bench.harness import print_report, record
from channels.web.schemas import VoteRequest

UNIT = 20  # votes parsed in one unit of work
RESTS = (0.0, 0.001, 0.005, 0.02)  # seconds slept before each unit
PACES = (None, 2000, 500, 100)  # round trips a second (None: as fast as they go)
ROUND_TRIP_SECONDS = 4  # each paced run's length


def vote_bodies(count: int) -> list[bytes]:
    """Distinct bodies, as distinct voters send them (no parse is answered from a cache)."""
    return [json.dumps({"candidate": f"{i % 20 + 1:02d}", "quantity": i % 5 + 1, "provider": "mtn",
                        "msisdn": f"+2376{70_000_000 + i * 7919 % 29_999_999}"}).encode() for i in range(count)]


def parse_unit(bodies: list[bytes], start: int) -> int:
    digits = 0
    for body in bodies[start:start + UNIT]:
        vote = VoteRequest.model_validate_json(body)
        number = phonenumbers.parse(vote.msisdn or "", None)
        digits += len(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return digits


def parsing_after_rest(rest: float, units: int) -> float:
    """Microseconds of this thread's CPU a unit, each unit after `rest` seconds of sleep; the median of 5 runs."""
    bodies = vote_bodies(units * UNIT)
    runs = []
    for _ in range(5):
        spent = 0
        for unit in range(units):
            if rest:
                time.sleep(rest)
            began = time.thread_time_ns()
            parse_unit(bodies, unit * UNIT)
            spent += time.thread_time_ns() - began
        runs.append(spent / units / 1000)
    return median(runs)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def echo(listener: socket.socket) -> None:
    connection, _ = listener.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := connection.recv(64):
        connection.sendall(data)
    os._exit(0)


def round_trips() -> dict[int | None, tuple[float, float]]:
    """For each pace: (round trips a second, microseconds of both processes' CPU a round trip)."""
    listener = socket.create_server(("127.0.0.1", 0))
    address = listener.getsockname()
    pid = os.fork()
    if pid == 0:
        echo(listener)
    listener.close()
    found: dict[int | None, tuple[float, float]] = {}
    with socket.create_connection(address) as peer:
        peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for pace in PACES:
            count = 20_000 if pace is None else pace * ROUND_TRIP_SECONDS
            cpu_before, echo_before, began = own_cpu(), process_cpu(pid), time.monotonic()
            for i in range(count):
                if pace is not None and (ahead := began + i / pace - time.monotonic()) > 0:
                    time.sleep(ahead)
                peer.sendall(b"x" * 32)
                peer.recv(64)
            seconds = time.monotonic() - began
            spent = own_cpu() - cpu_before + process_cpu(pid) - echo_before
            found[pace] = (count / seconds, spent / count * 1e6)
    os.waitpid(pid, 0)
    return found


def figures() -> dict[str, str]:
    parsed = {rest: parsing_after_rest(rest, units=200 if rest < 0.01 else 60) for rest in RESTS}
    shown = {}
    for rest, micros in parsed.items():
        label = "back to back" if not rest else f"after {rest * 1000:g} ms asleep"
        shown[f"{UNIT} votes parsed, {label}"] = (f"{micros:.0f} µs of CPU ({micros / parsed[0.0]:.2f}x back to back)")
    trips = round_trips()
    flat = trips[None][1]
    for pace, (rate, micros) in trips.items():
        label = "as fast as they go" if pace is None else f"paced at {pace} a second"
        shown[f"loopback round trip, {label}"] = (f"{rate:,.0f} a second, {micros:.1f} µs of CPU of both processes "
                                                  f"({micros / flat:.1f}x)")
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-record", dest="record", action="store_false", help="leave bench/RESULTS.md alone")
    args = parser.parse_args()
    report = print_report("What waking from idle costs on this machine", figures())
    if args.record:
        record("idle-cost", report)


if __name__ == "__main__":
    main()
