"""`gateway rehearse`'s CPU lines (assembly/operations/rehearsal/cpu.py), from two readings: where the installation's
CPU went by process and by part, each channel's share and CPU a vote, and what no part holds."""

from __future__ import annotations

from assembly.operations.rehearsal.cpu import CpuReading, cpu_lines

OFFERED = {"web": 1000, "ussd": 1000, "sms": 1000}
BEFORE = CpuReading(at=0.0, own=1.0, parts={("web", "web"): 1.0, ("sms", "worker"): 0.5},
                    kinds={"web processes": 10.0, "RQ workers": 5.0, "PostgreSQL": 3.0}, machine=100.0)
AFTER = CpuReading(
    at=100.0, own=6.0, machine=260.0,
    parts={("web", "web"): 21.0, ("ussd", "web"): 10.0, ("sms", "web"): 2.0, ("sms", "worker"): 7.5,
           ("payments", "web"): 5.0, ("relay", "web"): 1.0, ("relay", "worker"): 1.0, ("verification", "web"): 2.0,
           ("reconciler", "worker"): 0.5, ("board", "web"): 1.0, ("health", "web"): 0.1},
    kinds={"web processes": 60.0, "RQ workers": 15.0, "PostgreSQL": 18.0, "Redis": 2.0, "stand-ins": 5.0})


def test_each_channel_s_share_of_the_installation_s_cpu_and_its_cpu_a_vote() -> None:
    assert cpu_lines(BEFORE, AFTER, OFFERED, cores=2) == [
        "CPU during the run (100 s, from before the first vote until the installation settled; 2 cores here):",
        "  by process: the installation 82.0 s (41% of the cores; 27.3 ms a vote offered): web processes 50.0 s, "
        "PostgreSQL 15.0 s, RQ workers 10.0 s, stand-ins 5.0 s, Redis 2.0 s; this rehearsal 5.0 s; the rest of the "
        "machine 73.0 s",
        "  by part (share of the installation's CPU; CPU a vote offered on the channel): web 20.0 s (24%; 20.0 ms a "
        "vote), ussd 10.0 s (12%; 10.0 ms a vote), sms 9.0 s (11%, in workers 7.0 s; 9.0 ms a vote); shared: "
        "payments 5.0 s (6%), relay 2.0 s (2%, in workers 1.0 s), verification 2.0 s (2%), reconciler 0.5 s (1%, in "
        "workers 0.5 s), board 1.0 s (1%); other parts: health 0.1 s",
        "  not attributed: web processes outside the handlers and tasks measured 8.9 s (11%), as aiohttp's work "
        "around the handlers (reading and parsing requests, sending answers), the event loop's callbacks (asyncpg's "
        "parsing of PostgreSQL's answers) and threads; workers outside their jobs 1.5 s (2%), as RQ's waits and "
        "heartbeats and the periodic enqueuer; PostgreSQL, Redis and the stand-ins are measured by process only",
    ]


def test_an_installation_elsewhere_has_its_parts_shared_among_themselves() -> None:
    """No process of it here to read: the shares are of the CPU measured by part, and what is not is not sized."""
    remote = "the installation is not on this machine"
    before = CpuReading(at=0.0, own=0.0, parts={("web", "web"): 1.0}, kinds_unread=remote)
    after = CpuReading(at=60.0, own=2.0, parts={("web", "web"): 7.0, ("payments", "web"): 2.0}, kinds_unread=remote)
    lines = cpu_lines(before, after, {"web": 300}, cores=2)
    assert lines[1] == "  by process: not read, the installation is not on this machine"
    assert lines[2].startswith("  by part (share of the CPU measured by part; CPU a vote offered on the channel): "
                               "web 6.0 s (75%; 20.0 ms a vote); shared: payments 2.0 s (25%), relay 0.0 s (0%),")
    assert lines[3].startswith("  not attributed: not sized (by process not read): in the web processes aiohttp's "
                               "work around the handlers")


def test_a_metrics_page_that_refuses_the_rehearsal_is_said_so() -> None:
    refused = "/metrics answered HTTP 403 (METRICS_TOKEN as the installation's, or this address in its METRICS_ALLOW)"
    lines = cpu_lines(BEFORE, CpuReading(at=10.0, own=1.0, parts_unread=refused, kinds=AFTER.kinds, machine=120.0),
                      OFFERED, cores=2)
    assert lines[-1] == f"  by part: not read, {refused}"
