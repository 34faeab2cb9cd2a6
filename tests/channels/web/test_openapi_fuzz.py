"""The published OpenAPI description, fuzzed with schemathesis against a real web process:
every answer is a documented status with a JSON body matching its schema, never a 500."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from assembly.settings import Settings
from channels.web.openapi import build
from gateway.kit.outbound_tls import verified_tls
from tests.commands import command_env, gateway
from tests.servers import free_port

schema = schemathesis.openapi.from_dict(build())
CHECKS = (schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection)




@pytest.fixture(scope="module")
def live_web(settings: Settings) -> Iterator[str]:  # noqa: F811 - the suite's settings fixture
    env = command_env(settings, LOG_LEVEL="WARNING")
    seeded = gateway("seed", "--demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "assembly.cli", "web", "--port", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=1) as client:  # one: each client builds a TLS context, 37 ms of CPU here
            while time.monotonic() < deadline:
                try:
                    if client.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
        yield base
    finally:
        web.terminate()
        _, errors = web.communicate(timeout=30)
        assert b"Traceback" not in errors


def test_the_description_is_published(live_web: str) -> None:
    published = httpx.get(f"{live_web}/api/v1/openapi.json", timeout=5, verify=verified_tls()).json()
    assert published == build()
    assert "/api/v1/contests/{slug}/votes" in published["paths"]


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented_and_never_a_server_error(case: schemathesis.Case, live_web: str) -> None:
    response = case.call(base_url=live_web, timeout=10)
    case.validate_response(response, checks=CHECKS)
