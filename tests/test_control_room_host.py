"""As `gateway run` starts a host's web processes on one port, the control room shows the host's measured figures,
the same sums /metrics serves, counted from the host's start, whichever web process serves the page: not one
process's sample since that process started."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pyotp
from prometheus_client.multiprocess import MultiProcessCollector

from assembly.settings import Settings
from gateway.db.engine import Sessions
from tests.admin.accounts import PASSWORD, make_account
from tests.test_shared_metrics import Host, a_web_process_dies, paid_orders, running_host, vote

CONTROL_ROUTE = "/api/v1/admin/control"


def counted(files: list[Path], name: str, **labels: str) -> float:
    return sum(found.value for metric in MultiProcessCollector.merge([str(f) for f in files if f.exists()])
               for found in metric.samples
               if found.name == name and all(found.labels.get(key) == value for key, value in labels.items()))


def calls_made(host: Host, pid: int | None = None) -> float:
    """The providers' calls the host's processes made (or one process), read from their own files."""
    files = [host.shared / f"counter_{pid}.db"] if pid else list(host.shared.glob("counter_*.db"))
    return counted(files, "gateway_provider_calls_total")


def rooms_served_by(host: Host, pid: int) -> float:
    return counted([host.shared / f"counter_{pid}.db"], "gateway_http_requests_total", route=CONTROL_ROUTE)


async def owner_headers(host: Host, sessions: Sessions) -> dict[str, str]:
    owner = await make_account(sessions, "owner")
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{host.base}/api/v1/admin/token", json={
            "email": owner.email, "password": PASSWORD, "code": pyotp.TOTP(owner.secret).now()})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def room(host: Host, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:  # a connection each: the kernel picks the process
        response = await client.get(f"{host.base}{CONTROL_ROUTE}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(host: Host) -> float:
    """The host's calls once no more come (the votes' status checks done)."""
    last = -1.0
    for _ in range(100):
        if (now := calls_made(host)) == last:
            return now
        last = now
        await asyncio.sleep(1.0)
    raise AssertionError("the providers' calls never settled")


async def rooms_until_served_by(host: Host, headers: dict[str, str], pids: list[int]) -> list[dict[str, Any]]:
    """The room read on fresh connections until each of `pids` has served it at least once."""
    rooms = []
    for _ in range(60):
        rooms.append(await room(host, headers))
        if all(rooms_served_by(host, pid) > 0 for pid in pids):
            return rooms
    raise AssertionError(f"the kernel never gave the room to each of {pids}")


async def test_the_control_room_shows_the_hosts_totals_whichever_process_serves_it(
        settings: Settings, sessions: Sessions, tmp_path: Path) -> None:
    async with running_host(settings, tmp_path / "host") as host:
        listening_at = time.monotonic()
        number = 0
        while number < 4 or min(calls_made(host, pid) for pid in host.web_pids()) == 0:
            assert number < 30, "the votes all reached one web process"
            await vote(host, number)  # the premise: calls made by both web processes
            number += 1
        for _ in range(300):
            if await paid_orders(sessions) == number:
                break
            await asyncio.sleep(0.2)
        assert await paid_orders(sessions) == number
        headers = await owner_headers(host, sessions)
        total = await settled(host)
        for seen in await rooms_until_served_by(host, headers, host.web_pids()):
            assert seen["measured_by"] == "host"
            assert sum(p["calls"] for p in seen["providers"].values()) == total
            assert seen["confirmation_latency_seconds"]["p50"] is not None

        await asyncio.sleep(max(0.0, listening_at + 10 - time.monotonic()))  # the host well older than a newcomer
        before = host.web_pids()
        await a_web_process_dies(host)
        [newcomer] = set(host.web_pids()) - set(before)
        total = await settled(host)
        for seen in await rooms_until_served_by(host, headers, [newcomer]):
            # The host's figures, since the host started: the dead process's calls stay counted.
            assert sum(p["calls"] for p in seen["providers"].values()) == total
            assert seen["measured_seconds"] >= time.monotonic() - listening_at - 3  # not the newcomer's age
