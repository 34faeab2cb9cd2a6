"""`python -m bench.faults cluster`: the show's deployment on hosts of their own (layout.py), votes offered open loop
on every channel all along with viewers on the board, and each fault (faults.py) several times, one at a time,
each healed and the cluster let become whole again before the next; then the history checked against the final
database (history.py) and a row per fault run: what happened, what the voters were told meanwhile, when votes were
taken again, when the board's frames resumed, which alerts fired."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assembly.operations.rehearsal import readings
from assembly.operations.rehearsal.load import Told, Voter
from bench.cluster.patroni_state import ClusterState, has_leader_and_sync_standby
from bench.faults.burst import sandbox
from bench.faults.cluster import history
from bench.faults.cluster.alerts import LEFT_OUT, AlertLog, start_prometheus
from bench.faults.cluster.faults import FAULTS, Injected
from bench.faults.cluster.layout import HOSTS, cluster_links
from bench.faults.cluster.site import ClusterSite, start_site
from bench.faults.cluster.traffic import Audience, Load
from bench.faults.cluster.truth import Final, read_final
from bench.faults.network.services import server_states
from bench.faults.network.topology import hosts_folder, inside, network_of
from gateway.db.engine import create_engine, session_factory

WHOLE_WITHIN = 300.0  # a node rejoining (pg_rewind, or a base backup) on a loaded machine
SYNC_WITHIN = 90.0  # Patroni names a synchronous standby within a loop or two (loop_wait 10 s)
AFTER_WHOLE = 10.0  # the window of a fault run ends this long after the cluster is whole again
SETTLE_WITHIN = 300.0  # the reconciler's back-off after the last vote
VIEWERS = 40


@dataclass
class Run:
    rounds: int
    keys: list[str]
    rate: float


def pg_running(state: ClusterState, nodes: int) -> bool:
    """A leader and every node running on its timeline."""
    leader = state.leader
    return (leader is not None and len(state.replicas) == nodes - 1
            and all(member.timeline == leader.timeline for member in state.replicas))


async def wait_whole(site: ClusterSite) -> str | None:
    """Until Patroni has a leader and every node running on its timeline, the sentinels a master with a linked
    replica, and the balancer both web hosts in (RuntimeError if not within WHOLE_WITHIN); then until Patroni names
    a synchronous standby too, for SYNC_WITHIN at most: None once it does, else what it says."""
    started = time.time()
    while True:
        state = await site.patroni()
        redis = await asyncio.to_thread(site.redis_whole)
        try:
            balanced = set(server_states(site.balancer_stats).values()) == {"UP"}
        except OSError:
            balanced = False
        if pg_running(state, len(site.postgres.nodes)) and redis and balanced:
            break
        if time.time() > started + WHOLE_WITHIN:
            raise RuntimeError(f"the cluster is not whole again in {WHOLE_WITHIN:.0f} s: Patroni says {state}, "
                               f"Redis whole: {redis}, both web hosts in: {balanced}")
        await asyncio.sleep(1)
    named_from = time.time()
    while not has_leader_and_sync_standby(state):
        if time.time() > named_from + SYNC_WITHIN:
            return f"Patroni named no synchronous standby in {SYNC_WITHIN:.0f} s: {state}"
        await asyncio.sleep(1)
        state = await site.patroni()
    return None


def row(run: Injected, load: Load, audience: Audience, alerts: AlertLog | None) -> dict[str, str]:
    until = run.settled_at + AFTER_WHOLE
    told = history.told_between(load.history, run.injected_at, until)
    again = history.taken_again(load.history, run.injected_at, until)
    again_text = "never lost" if again == 0 else "NOT by the window's end" if again is None else f"{again:.1f} s"
    if run.key == "e":
        after_heal = history.taken_again(load.history, run.healed_at, until)
        again_text += f" ({after_heal:.1f} s after the restart)" if after_heal is not None else ""
    frames = history.frames_resumed(audience.arrivals(), run.injected_at, until)
    return {
        "fault": f"({run.key}) {run.title}, round {run.round}",
        **run.saw,
        "healed after": f"{run.healed_at - run.injected_at:.0f} s; whole again {run.settled_at - run.injected_at:.0f} s"
                        " after the fault",
        "votes asked meanwhile": ", ".join(f"{kind} {count}" for kind, count in sorted(told.items())) or "none",
        "their answers": history.waits(load.history, run.injected_at, until),
        "votes taken again": again_text,
        "board frames resumed": f"{frames:.1f} s" if frames is not None else "NOT for every viewer",
        "alerts fired": (", ".join(alerts.fired_between(run.injected_at, until)) or "none") if alerts else "not run",
    }


async def faults_under_load(site: ClusterSite, plan: Run) -> tuple[list[dict[str, str]], dict[str, str]]:
    stack = site.stack
    await sandbox(stack, success_delay=0.3)
    began = await contest_start(await site.primary_url())
    voter = Voter(stack.base_url, "demo", ussd_token=None, sms_token=None, short_code="20123")
    load = Load(voter, plan.rate, first_number=random.randrange(1_000_000, 8_000_000))
    audience = Audience.of(stack.base_url, VIEWERS)
    alerts = start_prometheus(site.network, [url.removeprefix("http://") for url in site.postgres.rest_urls],
                              [member.client_address for member in site.postgres.etcd])
    tasks = [asyncio.create_task(load.run()), asyncio.create_task(audience.run())]
    if alerts:
        tasks.append(asyncio.create_task(alerts.run()))
    rows, runs = [], []
    try:
        await asyncio.sleep(20)  # the load steady, the viewers on, Prometheus' windows filling
        for number in range(1, plan.rounds + 1):
            for key in plan.keys:
                title, fault = FAULTS[key]
                run = Injected(key, title, number)
                if (before := await wait_whole(site)) is not None:
                    run.saw["before it"] = before
                print(f"  ({key}) {title}, round {number}", flush=True)
                try:
                    await fault(site, run)
                except (RuntimeError, AssertionError, OSError) as exc:  # (e) with no sync standby: shown, not hidden
                    run.saw["NOT RUN"] = str(exc)
                    run.injected_at = run.healed_at = time.time()
                if (after := await wait_whole(site)) is not None:
                    run.saw["after it"] = after
                run.settled_at = time.time()
                print(f"  ({key}) whole again {run.settled_at - run.injected_at:.0f} s after: {run.saw}", flush=True)
                await asyncio.sleep(AFTER_WHOLE)
                runs.append(run)
                rows.append(row(run, load, audience, alerts))
    finally:
        load.stop.set()
        await tasks[0]
        audience.stop.set()
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks[1:], return_exceptions=True)
    kept_history(load, site.network.folder)
    final = await read_final(await site.primary_url(), stack.sandbox_url, load.history, began, SETTLE_WITHIN)
    return rows, summary(load, audience, final, alerts)


async def contest_start(database_url: str) -> readings.Start:
    engine = create_engine(database_url, pool_size=1)
    try:
        began = await readings.start(session_factory(engine), "demo")
    finally:
        await engine.dispose()
    if began is None:
        raise RuntimeError("no demo contest: the first web host did not seed it")
    return began


def summary(load: Load, audience: Audience, final: Final, alerts: AlertLog | None) -> dict[str, str]:
    checked = history.check(load.history, final.end.orders, final.end.sms, final.charged)
    told = history.told_between(load.history, 0, time.time() + 1)
    return {
        "votes offered": f"{load.offered} at {load.rate:g}/s over web, USSD and SMS: "
                         + ", ".join(f"{kind} {count}" for kind, count in sorted(told.items()))
                         + (f"; skipped: {load.skipped}" if load.skipped else ""),
        "acknowledged (told placed, or an SMS answered with its order)": str(checked.acknowledged),
        "of those counted once": f"{checked.counted}; paid by the provider and not counted: see lost",
        "LOST (acknowledged and paid, not counted, or no order)": history.samples(checked.lost),
        "DOUBLED (counted more than once)": history.samples(checked.doubled),
        "acknowledged, paid and kept out of the tally by a rule for a person (not lost)":
            ", ".join(f"{status} {count}" for status, count in checked.for_a_person.items()) or "none",
        "what the refused were told (most often)": refusals(load),
        "told refused, counted all the same": history.samples(checked.refused_counted) + "; by answer: " + (
            ", ".join(f"{said} x{n}" for said, n in checked.refused_counted_by.most_common(6)) or "none"),
        "no answer (the client gave up)": f"{checked.no_answer}, of which counted all the same "
                                          f"{checked.no_answer_counted} (allowed either way)",
        "acknowledged orders still pending": f"{history.samples(checked.unsettled)} (after waiting "
                                             f"{final.waited:.0f} s for every order to be decided)",
        "SMS kept, never answered": str(checked.sms_unanswered),
        "provider asked about not-counted acknowledged orders": f"{final.asked_provider}, paid: {len(final.charged)}",
        "ledger verifies": "yes" if not final.ledger.problems else "NO: " + "; ".join(final.ledger.problems),
        "viewers who saw the board go back": str(audience.went_back()),
        "alerts": LEFT_OUT if alerts else "Prometheus not installed: none",
        "verdict": "PASS" if checked.sound else "FAIL",
    }


def refusals(load: Load, shown: int = 6) -> str:
    told = Counter(f"{asked.vote.channel}: {asked.vote.said}" for asked in load.history
                   if asked.vote.told in (Told.REFUSED, Told.NO_ANSWER))
    return ", ".join(f"{said} x{count}" for said, count in told.most_common(shown)) or "none"


def kept_history(load: Load, folder: Path) -> None:
    """Every vote's answer, a JSON object a line (kept with the hosts' logs under BENCH_KEEP=1)."""
    with (folder / "history.jsonl").open("w") as out:
        for asked in load.history:
            out.write(json.dumps({"channel": asked.vote.channel, "msisdn": asked.vote.msisdn,
                                  "told": asked.vote.told.value, "said": asked.vote.said,
                                  "asked_at": asked.asked_at, "answered_at": asked.answered_at}) + "\n")


def run_cluster(plan: Run) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Build the hosts, start the deployment, run the faults; everything torn down after, even on Ctrl-C."""
    started = time.monotonic()
    with hosts_folder("ballot-cluster-", log_lines=8) as folder, network_of(cluster_links(), folder) as network, \
            inside(network, "clients"):
        site = start_site(network)
        set_up = time.monotonic() - started
        print(f"  {len(HOSTS)} hosts up in {set_up:.0f} s", flush=True)
        try:
            rows, figures = asyncio.run(faults_under_load(site, plan))
        finally:
            stop_servers(site)
        figures["start-up"] = f"{set_up:.0f} s"
        figures["links: packets passed, lost"] = "{passed}, {lost}".format(**network.links(table=True))
    figures["whole run"] = f"{time.monotonic() - started:.0f} s"
    return rows, figures


def stop_servers(site: ClusterSite) -> None:
    """The cluster's own stop (a frozen node resumed first); the namespaces' teardown kills what is left."""
    from bench.cluster import postgres_cluster

    postgres_cluster.stop_cluster(site.postgres)
