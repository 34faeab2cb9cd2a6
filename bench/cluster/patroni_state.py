"""What Patroni says of its cluster (GET /cluster on any node's REST API): who holds the leader lock, who is the
synchronous standby, each replica's lag and timeline; and waiting until it says what a test needs."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Member:
    """One node as Patroni's /cluster lists it."""

    name: str
    role: str  # "leader", "sync_standby" or "replica"
    state: str  # "running", "streaming", "starting", "stopped", "crashed", "creating replica", …
    timeline: int | None  # None while it does not know (starting)
    lag: int | None  # bytes of WAL behind the leader; None for the leader itself or when unknown

    @property
    def running(self) -> bool:
        """Its PostgreSQL up and serving: "running" (a leader; a replica in Debian 12's Patroni 3.0.2), "streaming" (a
        replica receiving WAL, as the pinned Patroni 4 says it)."""
        return self.state in ("running", "streaming")


@dataclass(frozen=True)
class ClusterState:
    members: tuple[Member, ...]

    def named(self, role: str) -> list[Member]:
        return [member for member in self.members if member.role == role and member.running]

    @property
    def leader(self) -> Member | None:
        found = self.named("leader")
        return found[0] if found else None

    @property
    def sync_standby(self) -> Member | None:
        found = self.named("sync_standby")
        return found[0] if found else None

    @property
    def replicas(self) -> list[Member]:
        """Every running standby, synchronous or not."""
        return self.named("sync_standby") + self.named("replica")

    def member(self, name: str) -> Member | None:
        return next((member for member in self.members if member.name == name), None)

    def __str__(self) -> str:
        return ", ".join(f"{m.name} {m.role} {m.state} tl={m.timeline} lag={m.lag}" for m in self.members) or "none"


def parsed(answer: dict[str, Any]) -> ClusterState:
    members = []
    for entry in answer.get("members", []):
        lag, timeline = entry.get("lag"), entry.get("timeline")
        members.append(Member(name=str(entry["name"]), role=str(entry["role"]), state=str(entry.get("state", "")),
                              timeline=timeline if isinstance(timeline, int) else None,
                              lag=lag if isinstance(lag, int) and entry["role"] != "leader" else None))
    return ClusterState(tuple(sorted(members, key=lambda member: member.name)))


def rest_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """The status and body of a GET (Patroni answers 503 with a body on /primary of a replica)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as refused:
        return int(refused.code), bytes(refused.read())


def cluster_state(rest_urls: Sequence[str]) -> ClusterState:
    """The cluster as the first node that answers sees it (it reads etcd, so any live node's view is the DCS's);
    empty if none answers."""
    for url in rest_urls:
        try:
            status, body = rest_get(f"{url}/cluster")
        except OSError:
            continue
        if status == 200:
            return parsed(json.loads(body))
    return ClusterState(())


def wait_for(rest_urls: Sequence[str], condition: Callable[[ClusterState], bool], timeout: float,
             what: str) -> ClusterState:
    """The first state that meets `condition`, polled a few times a second; AssertionError naming `what` and the
    last state seen if it never does within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    state = cluster_state(rest_urls)
    while not condition(state):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s; Patroni says: {state}")
        time.sleep(0.2)
        state = cluster_state(rest_urls)
    return state


def has_leader_and_sync_standby(state: ClusterState) -> bool:
    """A leader and a running synchronous standby on its timeline: a commit is acknowledged again."""
    leader, standby = state.leader, state.sync_standby
    return leader is not None and standby is not None and standby.timeline == leader.timeline
