"""deploy/prometheus/queries.yaml read by Debian's prometheus-postgres-exporter, as ops.sh and a production host run
it, against the suite's PostgreSQL: every `pg_…` figure of those queries an alert rule reads is served, with a value
(a query the exporter cannot run, or a renamed column, would leave its alert silent or paging forever)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml
from sqlalchemy.engine import make_url

from assembly.settings import Settings
from tests.servers import free_port

PROMETHEUS = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
QUERIES = PROMETHEUS / "queries.yaml"


def exporter_dsn(database_url: str) -> str:
    """The suite's database as the exporter's Go driver takes it: a Unix socket's folder as `host`, no TLS."""
    url = make_url(database_url)
    host = url.query.get("host") or url.host or ""
    folder = host if isinstance(host, str) else host[0]
    return (f"postgresql://{url.username or 'postgres'}@:{url.port or 5432}/{url.database}"
            f"?host={folder}&sslmode=disable")


@contextmanager
def exporter(settings: Settings) -> Iterator[str]:
    assert settings.database_url
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        ["prometheus-postgres-exporter", f"--web.listen-address={address}", f"--extend.query-path={QUERIES}"],
        env={"DATA_SOURCE_NAME": exporter_dsn(settings.database_url)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://{address}/metrics"
    finally:
        process.terminate()
        process.wait(timeout=30)


def figures_once_up(url: str) -> str:
    """The exporter's page once it has reached PostgreSQL (`pg_up 1`)."""
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=10) as client:
        while True:
            try:
                page = client.get(url).text
                if re.search(r"^pg_up 1$", page, re.MULTILINE):
                    return page
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the exporter did not reach PostgreSQL"
            time.sleep(0.2)


def test_every_figure_of_our_queries_an_alert_reads_is_served_with_a_value(settings: Settings) -> None:
    rules = (PROMETHEUS / "rules.yml").read_text()
    ours = {f"{name}_{column}" for name, query in yaml.safe_load(QUERIES.read_text()).items()
            for metric in query["metrics"] for column in metric}
    read = {name for name in ours if re.search(rf"\b{name}\b", rules)}
    assert read, "no rule reads our queries' figures"
    with exporter(settings) as url:
        page = figures_once_up(url)
    for name in read:
        assert re.search(rf"^{name}(\{{[^}}]*\}})? \d", page, re.MULTILINE), f"{name} not served"
