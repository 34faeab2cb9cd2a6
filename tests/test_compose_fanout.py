"""docker-compose.yml's fan-out servers are wired as the test of two of them behind the balancer runs them
(tests/leaderboard/test_fanout_pair.py, on deploy/haproxy.cfg): their channels in one Redis of their own, written
as `gateway fanout` writes it, and the web replicas' frames published through the balancer, which passes them to
the first fan-out server that answers. Scaled (`--scale fanout=2`), a server that dies loses its viewers nothing.
The image starts only on a publishers' secret that nginx reads as it is written."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from assembly.machine import fanout_server
from assembly.machine.fanout_server import FanoutServer

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
BALANCER = ROOT / "deploy" / "haproxy.cfg"
IMAGE = ROOT / "deploy" / "fanout.Dockerfile"
DEFAULT = re.compile(r"^\$\{(?P<name>[A-Z_]+):?-(?P<default>.*)\}$")  # ${NAME-default}: Compose's default


def services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def default_of(value: str) -> str:
    """What Compose puts in the container when the variable is not set on the host."""
    match = DEFAULT.match(value)
    return match.group("default") if match else value


def section(config: str, heading: str) -> str:
    """One `frontend`/`backend` of the balancer's file, up to the next."""
    return config.split(f"\n{heading}\n", 1)[1].split("\n\n", 1)[0]


def test_the_fanout_servers_share_their_channels_in_a_redis_of_their_own() -> None:
    every = services()
    store = default_of(every["fanout"]["environment"]["STORE"])
    address = re.search(r"nchan_redis_url (redis://([^:/]+):\d+)", store)
    assert address is not None, f"the fan-out servers keep their channels in their own memory: {store!r}"
    assert store == fanout_server.store(FanoutServer(redis_url=address.group(1))), "written unlike `gateway fanout`"
    shared = every[address.group(2)]
    assert shared is not every["redis"] and "fanout-redis" in every["fanout"]["depends_on"]
    assert {"--save", "--appendonly"} <= set(shared["command"]), "a board is published again; nothing to keep"


def test_the_web_replicas_publish_through_the_balancer_to_the_first_fanout_server_that_answers() -> None:
    every = services()
    url = urlsplit(default_of(every["web"]["environment"]["BOARD_FANOUT_URL"]))
    config = BALANCER.read_text()
    publishers = section(config, "frontend publishers")
    bind = every["balancer"]["environment"]["PUBLISHERS_BIND"]
    assert bind == f"${{BALANCER_ADDRESS:-{balancer_address(every)}}}:{url.port}" and "PUBLISHERS_BIND" in publishers
    assert url.hostname == "balancer" and "default_backend publish" in publishers
    publish = section(config, "backend publish")
    assert "balance first" in publish and "retry-on conn-failure" in publish
    assert f"fanout:{every['fanout']['environment']['PUBLISH_LISTEN']}" in publish
    assert not any(str(url.port) in port for port in every["balancer"]["ports"]), "publishing is the service's only"


def test_every_fanout_replica_takes_viewers_and_a_dead_one_lets_go_of_them() -> None:
    stream = section(BALANCER.read_text(), "backend fanout")
    listen = services()["fanout"]["environment"]["LISTEN"]
    assert re.search(rf"server-template fanout \d+ fanout:{listen}\b", stream)
    assert "balance leastconn" in stream and "on-marked-down shutdown-sessions" in stream


def balancer_address(every: dict[str, Any]) -> str:
    return default_of(every["balancer"]["networks"]["default"]["ipv4_address"])


def test_only_the_web_replicas_publish_and_only_the_balancer_reaches_the_fanout_servers_publishers() -> None:
    """The balancer answers frames on its own address in the network, from the network; each fan-out server takes
    them from the balancer only, and only with the web replicas' secret (the same variable, required)."""
    every = services()
    subnet = yaml.safe_load(COMPOSE.read_text())["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert every["balancer"]["environment"]["PUBLISHERS_ALLOW"] == subnet  # the network's, whatever it is set to
    fanout = every["fanout"]["environment"]
    assert fanout["PUBLISH_ACCESS"] == f"allow ${{BALANCER_ADDRESS:-{balancer_address(every)}}}; deny all;"
    secret = every["web"]["environment"]["BOARD_FANOUT_SECRET"]
    assert secret.startswith("${BOARD_FANOUT_SECRET:?") and fanout["PUBLISH_SECRET"] == secret


def image_checks() -> str:
    """The fan-out image's start-up script (deploy/fanout.Dockerfile's CMD, run by Debian's sh) up to where it
    writes nginx's configuration: what it checks of its environment first."""
    line = next(line for line in IMAGE.read_text().splitlines() if line.startswith("CMD "))
    shell, flag, script = json.loads(line.removeprefix("CMD "))
    assert (shell, flag) == ("sh", "-c")
    checks, defaults, _ = script.partition('"${PUBLISH_ACCESS:=')
    assert defaults, "the script no longer sets its defaults where this test expects"
    return checks + "; echo checked"


@pytest.mark.parametrize(("secret", "refused"), [
    ("", "set PUBLISH_SECRET"), ("a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p", "at least 32 characters"),
    ('x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt"; allow all; #', "letters, digits"),
    ("x4Vq9-LmT2rZ8bWn K3sJ7dHf0Yc6GpE1uAoNiRt", "letters, digits"),
    ("x4Vq9-LmT2rZ8bWn;K3sJ7dHf0Yc6GpE1uAoNiRt", "letters, digits"),
    ("x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt\n", "letters, digits"),
    ("x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt", None)])
def test_the_fanout_image_starts_only_on_a_secret_nginx_reads_as_written(secret: str, refused: str | None) -> None:
    """The secret is written into nginx's configuration as it is: a '"' or ';' would change that configuration."""
    ran = subprocess.run(["sh", "-c", image_checks()], env={"PATH": os.defpath, "PUBLISH_SECRET": secret},
                         capture_output=True, text=True, timeout=60)
    if refused is None:
        assert (ran.returncode, ran.stdout) == (0, "checked\n"), ran.stderr
    else:
        assert ran.returncode != 0 and refused in ran.stderr and "checked" not in ran.stdout, ran
