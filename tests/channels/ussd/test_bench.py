"""bench/ussd_load.py against a live server of the app: it measures every hop and counts errors."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from assembly.machine.demo import seed_demo
from bench import ussd_load
from gateway.db.engine import Sessions
from tests.factories import count_orders


async def test_sessions_walk_the_path_and_every_hop_is_measured(
        client: TestClient, sessions: Sessions) -> None:
    await seed_demo(sessions)  # the seeded per-number limit (5 a minute) must not trip
    url = str(client.make_url("")).rstrip("/")
    report = await ussd_load.run_load(url, 30, msisdn_start=1000)
    assert [hop.text for hop in report.hops] == ["", "1", "1*07", "1*07*5", "1*07*5*1", "1*07*5*1*1"]
    assert all(len(hop.latencies) == 30 for hop in report.hops)
    assert not report.errors and report.confirmed == 30
    assert await count_orders(sessions) == 30
    figures = report.figures()
    assert figures["errors"] == "none" and figures["orders confirmed on screen"] == "30/30"
    assert figures["hop 5 '1*07*5*1*1'"].startswith("p50 ")


async def test_paced_sessions_spread_out(client: TestClient, sessions: Sessions) -> None:
    await seed_demo(sessions)
    url = str(client.make_url("")).rstrip("/")
    pace = ussd_load.Pace(ramp=0.2, think=0.02)
    report = await ussd_load.run_load(url, 5, msisdn_start=2000, pace=pace)
    assert report.confirmed == 5 and not report.errors and report.seconds >= 0.1
    assert "starts over 0.2 s, ~0.02 s between hops" in report.figures()["sessions"]


async def test_errors_are_counted_per_hop(client: TestClient, sessions: Sessions) -> None:
    url = str(client.make_url("")).rstrip("/")
    report = await ussd_load.run_load(url, 3, msisdn_start=0)  # no contest on the code: END at the dial
    assert report.hops[0].errors == {"ended_early": 3} and report.confirmed == 0
    assert ussd_load.main(["--url", url, "--sessions", "0"]) == 2


@pytest.mark.parametrize("url", ["http://example.com:8080", "http://10.0.0.5", "http://192.168.1.2:80"])
def test_only_localhost_is_targeted(url: str) -> None:
    with pytest.raises(ussd_load.NotLocal):
        ussd_load.check_local(url)
    assert ussd_load.main(["--url", url, "--sessions", "1"]) == 2


def test_helpers() -> None:
    ussd_load.check_local("http://localhost:1")
    ussd_load.check_local("http://[::1]:8080")
    assert ussd_load.hop_texts("1*07") == ["", "1", "1*07"]
    assert ussd_load.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert ussd_load.percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    assert ussd_load.msisdns(2, 9_999_998) == ["+237679999998", "+237679999999"]
    assert ussd_load.msisdns(3, 1449) == ["+237670001449", "+237670001456", "+237670001457"]
    with pytest.raises(ValueError):
        ussd_load.msisdns(3, 9_999_998)
    assert ussd_load.classify(5, 5, 200, "END Merci! Ref AB12CD34") is None
    assert ussd_load.classify(5, 5, 200, "END Limite de votes atteinte") == "no_order_confirmation"
    assert ussd_load.classify(1, 5, 500, "{}") == "http_500"
