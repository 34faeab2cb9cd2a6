"""`make ops` (deploy/prometheus/ops.sh) on a shared machine: every port by variable, where Alertmanager's pages go
included, so that they reach the person who started it, not whoever listens on Debian's default port."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.servers import free_port
from tests.test_alert_rules import PROMETHEUS, alert, alertmanager, run
from tests.waiting import HANG_SECONDS, wait_for

OPS = PROMETHEUS / "ops.sh"
PORTS = ("GATEWAY_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT", "NODE_EXPORTER_PORT", "REDIS_EXPORTER_PORT",
         "POSTGRES_EXPORTER_PORT", "ALERT_RECEIVER_PORT")


@contextmanager
def webhook() -> Iterator[tuple[int, list[tuple[str, dict[str, object]]]]]:
    """A receiver of Alertmanager's webhooks on a free port: each post's path and body, as they come."""
    received: list[tuple[str, dict[str, object]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def configs(tmp_path: Path, **env: str) -> Path:
    """ops.sh's configurations, written and not started, every port a free one unless given."""
    ports = {name: str(free_port()) for name in PORTS}
    done = subprocess.run([str(OPS), "--configs-only"], capture_output=True, text=True, timeout=HANG_SECONDS,
                          env={**os.environ, **ports, "GATEWAY_DATA_DIR": str(tmp_path / "var"), **env})
    assert done.returncode == 0, done.stdout + done.stderr
    return Path(done.stdout.strip())


def test_the_ops_stack_pages_on_the_receiver_port_it_is_given(tmp_path: Path) -> None:
    with webhook() as (port, received):
        ops = configs(tmp_path, ALERT_RECEIVER_PORT=str(port))
        assert "SUCCESS" in run("amtool", "check-config", str(ops / "alertmanager.yml"))
        assert "SUCCESS" in run("promtool", "check", "config", str(ops / "prometheus.yml"))
        with alertmanager(tmp_path, ops / "alertmanager.yml") as url:
            sent = httpx.post(f"{url}/api/v2/alerts", json=[alert("RedisDown", cause="unanswered")], timeout=5)
            assert sent.status_code == 200
            wait_for(lambda: bool(received), "a page reaching the receiver")
    path, body = received[0]
    assert path == "/page"
    assert [a["labels"]["alertname"] for a in body["alerts"]] == ["RedisDown"]  # type: ignore[index, union-attr]


def test_the_ops_stack_posts_to_a_webhook_of_ones_own(tmp_path: Path) -> None:
    ops = configs(tmp_path, ALERT_WEBHOOK_URL="https://hooks.example.org/ballot/")
    rendered = (ops / "alertmanager.yml").read_text()
    assert "url: https://hooks.example.org/ballot/page" in rendered
    assert "url: https://hooks.example.org/ballot/ticket" in rendered
    assert "9099" not in rendered


def test_a_webhook_address_with_sed_characters_arrives_as_written_and_one_with_a_query_is_refused(
        tmp_path: Path) -> None:
    ops = configs(tmp_path, ALERT_WEBHOOK_URL="https://hooks.example.org/a&b|c\\d")
    rendered = (ops / "alertmanager.yml").read_text()
    assert "url: https://hooks.example.org/a&b|c\\d/page" in rendered
    refused = subprocess.run([str(OPS), "--configs-only"], capture_output=True, text=True, timeout=HANG_SECONDS,
                             env={**os.environ, "GATEWAY_DATA_DIR": str(tmp_path / "var2"),
                                  "ALERT_WEBHOOK_URL": "https://hooks.example.org/ballot?token=abc&chat=42"})
    assert refused.returncode == 2 and "no ? or #" in refused.stderr
