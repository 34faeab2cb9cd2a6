"""The faults, each injected while the load runs, then healed and the cluster let recover: (a) the PostgreSQL
primary's host killed whole, (b) the primary cut from etcd and from the service hosts (with the proof that it takes no
write once another node was promoted), (c) the primary's PostgreSQL and Patroni frozen (SIGSTOP) past the leader
lock's ttl, (d) the Redis master's host killed whole, (e) the primary and its synchronous standby killed at once.

Each returns when it was injected and healed and what it saw (who was promoted, and when); the votes and frames
of its window are judged by the scenario against the history."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.cluster.patroni_state import ClusterState
from bench.faults.cluster.layout import ETCD_HOSTS, WEB_HOSTS, cut_from
from bench.faults.cluster.site import ClusterSite

PROMOTION_WITHIN = 150.0  # ttl 30 + loop_wait 10 at worst, and the machine's pace
AFTER_THAW = 30.0  # (c): how long the leader is watched once the frozen node runs again
HELD_WITHOUT_QUORUM = 60.0  # (e): past ttl + loop_wait, so an automatic promotion would have happened by then


@dataclass
class Injected:
    key: str
    title: str
    round: int
    injected_at: float = 0.0
    healed_at: float = 0.0
    settled_at: float = 0.0  # the cluster whole again (leader + sync standby, Redis master + replica, both hosts in)
    saw: dict[str, str] = field(default_factory=dict)


def namespace_pids(site: ClusterSite, host: str) -> list[int]:
    return site.network.pids(host)


def signal_host(site: ClusterSite, host: str, signum: signal.Signals) -> int:
    """Every process of the host's namespace at once (a machine losing its power, or frozen): how many."""
    pids = namespace_pids(site, host)
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    return len(pids)


async def promoted_other_than(site: ClusterSite, old: str, within: float) -> tuple[str | None, float]:
    """The node promoted in `old`'s place, and the seconds until Patroni named it (None: none within)."""
    started = time.time()
    while time.time() < started + within:
        leader = (await site.patroni(avoid=old)).leader
        if leader is not None and site.host_of_node(leader.name) != old:
            return site.host_of_node(leader.name), time.time() - started
        await asyncio.sleep(0.5)
    return None, time.time() - started


async def kill_primary_host(site: ClusterSite, run: Injected) -> None:
    old = await site.primary_host()
    killed = signal_host(site, old, signal.SIGKILL)
    run.injected_at = time.time()
    promoted, after = await promoted_other_than(site, old, PROMOTION_WITHIN)
    run.saw["done"] = f"{old} killed whole ({killed} processes, SIGKILL)"
    run.saw["promoted"] = f"{promoted} {after:.1f} s after the kill" if promoted else f"NONE in {after:.0f} s"
    await asyncio.sleep(5)
    await asyncio.to_thread(site.restart_postgres_host, old)
    run.healed_at = time.time()


async def partition_primary(site: ClusterSite, run: Injected) -> None:
    old = await site.primary_host()
    pairs = cut_from(old, (*ETCD_HOSTS, *WEB_HOSTS))
    await asyncio.to_thread(site.network.links, cut=pairs)
    run.injected_at = time.time()
    promoted, after = await promoted_other_than(site, old, PROMOTION_WITHIN)
    run.saw["done"] = f"{old} cut from {', '.join(ETCD_HOSTS + WEB_HOSTS)} ({len(pairs)} links)"
    run.saw["promoted"] = f"{promoted} {after:.1f} s after the cut" if promoted else f"NONE in {after:.0f} s"
    marker = f"partition-{run.round}-{int(run.injected_at)}"
    if promoted:  # the old primary, still reachable from the clients' host, asked to write
        run.saw["a write on the old primary after the promotion"] = await site.scratch_insert(old, marker)
    await asyncio.to_thread(site.network.links, heal=True)
    run.healed_at = time.time()
    run.saw["its row on the new primary after the mend"] = await site.scratch_row_on_primary(marker, wait=60)


async def freeze_primary(site: ClusterSite, run: Injected) -> None:
    old = await site.primary_host()
    frozen = signal_host(site, old, signal.SIGSTOP)
    run.injected_at = time.time()
    try:
        promoted, after = await promoted_other_than(site, old, PROMOTION_WITHIN)
        lease = site.leader_ttl + 5
        await asyncio.sleep(max(0.0, run.injected_at + lease - time.time()))  # past the leader lock's ttl, at least
    finally:
        signal_host(site, old, signal.SIGCONT)
    run.healed_at = time.time()
    run.saw["done"] = (f"{old}'s PostgreSQL and Patroni frozen ({frozen} processes, SIGSTOP) for "
                        f"{run.healed_at - run.injected_at:.0f} s (ttl {site.leader_ttl} s), then SIGCONT")
    run.saw["promoted"] = f"{promoted} {after:.1f} s after the freeze" if promoted else f"NONE in {after:.0f} s"
    run.saw["leader after the SIGCONT"] = await leaders_for(site, AFTER_THAW, run.healed_at)


async def leaders_for(site: ClusterSite, seconds: float, since: float) -> str:
    """Who held the leader lock over the next `seconds`, each change with its time after `since`: a thawed old
    primary must not take it back from the node promoted meanwhile."""
    seen: list[tuple[float, str]] = []
    while time.time() < since + seconds:
        leader = (await site.patroni()).leader
        name = site.host_of_node(leader.name) if leader else "none"
        if not seen or seen[-1][1] != name:
            seen.append((time.time() - since, name))
        await asyncio.sleep(0.5)
    return ", then ".join(f"{name} (+{at:.0f} s)" for at, name in seen)


async def kill_redis_master_host(site: ClusterSite, run: Injected) -> None:
    old = await asyncio.to_thread(site.redis_master_host)
    if old is None:
        raise RuntimeError("the sentinels name no Redis master to fault")
    killed = signal_host(site, old, signal.SIGKILL)
    run.injected_at = time.time()
    new, after = None, 0.0
    while time.time() < run.injected_at + 90:
        found = await asyncio.to_thread(site.redis_master_host, old)
        if found not in (None, old):
            new, after = found, time.time() - run.injected_at
            break
        await asyncio.sleep(0.5)
    run.saw["done"] = f"{old} killed whole ({killed} processes: Redis and its sentinel, SIGKILL)"
    run.saw["sentinels named"] = f"{new} master {after:.1f} s after the kill" if new else "NO new master in 90 s"
    await asyncio.sleep(5)
    await asyncio.to_thread(site.restart_redis_host, old)
    run.healed_at = time.time()


async def kill_primary_and_standby(site: ClusterSite, run: Injected) -> None:
    state = await site.patroni()
    if state.leader is None or state.sync_standby is None:
        raise RuntimeError(f"no leader and sync standby to kill: {state}")
    primary, standby = site.host_of_node(state.leader.name), site.host_of_node(state.sync_standby.name)
    killed = signal_host(site, primary, signal.SIGKILL) + signal_host(site, standby, signal.SIGKILL)
    run.injected_at = time.time()
    leaders: list[str] = []
    while time.time() < run.injected_at + HELD_WITHOUT_QUORUM:  # what Patroni says meanwhile
        seen = await site.patroni(avoid=primary)
        if seen.leader is not None and site.host_of_node(seen.leader.name) not in (primary, standby):
            leaders.append(site.host_of_node(seen.leader.name))
        await asyncio.sleep(1)
    left = await site.patroni(avoid=primary)
    run.saw["done"] = f"{primary} (primary) and {standby} (sync standby) killed at once ({killed} processes)"
    run.saw["the third node meanwhile"] = ("NOT promoted in "
                                          f"{HELD_WITHOUT_QUORUM:.0f} s (strict synchronous mode), Patroni: "
                                          f"{described(left)}" if not leaders else f"PROMOTED: {leaders[0]}")
    await asyncio.to_thread(site.restart_postgres_host, primary)
    await asyncio.to_thread(site.restart_postgres_host, standby)
    run.healed_at = time.time()


def described(state: ClusterState) -> str:
    return "; ".join(f"{m.name} {m.role} {m.state}" for m in state.members) or "no node answers"


Fault = Callable[[ClusterSite, Injected], Awaitable[None]]
# In this order within a round: (c) last, since a thawed Patroni 3.0.2 may leave the cluster without a synchronous
# standby named (the scenario's first run here), which (e) needs; the next round's (a) kills that node and its state.
FAULTS: dict[str, tuple[str, Fault]] = {
    "a": ("kill the primary's host", kill_primary_host),
    "b": ("partition the primary from etcd and the service hosts", partition_primary),
    "d": ("kill the Redis master's host", kill_redis_master_host),
    "e": ("kill the primary and its sync standby at once", kill_primary_and_standby),
    "c": ("SIGSTOP the primary past the leader ttl", freeze_primary),
}
