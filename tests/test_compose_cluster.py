"""docker-compose.yml's `cluster` profile is the show's topology as docs/show-night.md tells it ("With the compose
file: the cluster"): its servers, what each waits for and how each says it is healthy are the runbook's table; each
runs deploy/cluster's own template, filled in from its environment with no placeholder left empty (envsubst, as the
container does); the addresses agree across the files; the service reaches the primary through the HAProxy's primary
port and Redis through the three sentinels; and the step that makes the service's role and database does so on a
real PostgreSQL, once however often it runs. Docker does not run here: the file is read as Compose reads it (YAML
merge keys, `$$` for `$`, a variable's default where the host sets none)."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pgserver
import pytest
import yaml

from assembly.operations.embedded_packages import add_system_user
from gateway.jobs.redis_connections import parse_sentinel_url
from tests.servers import free_port
from tests.waiting import HANG_SECONDS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
RUNBOOK = ROOT / "docs" / "show-night.md"
# ${NAME}, ${NAME:-x}, ${NAME:?x}: Compose's; $${…} is a `${` for the container, none of Compose's.
VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Z_]+)(?::?[-?](?P<default>[^}]*))?\}")
PLACEHOLDER = re.compile(r"\$\{([A-Z_0-9]+)\}")
CONDITIONS = {"healthy": "service_healthy", "done": "service_completed_successfully"}
PASSWORDS = ("PATRONI_SUPERUSER_PASSWORD", "PATRONI_REPLICATION_PASSWORD", "PATRONI_REWIND_PASSWORD",
             "REDIS_PASSWORD", "SENTINEL_PASSWORD", "POSTGRES_PASSWORD")
BINARIES = Path(pgserver.__file__).parent / "pginstall" / "bin"


def services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def cluster() -> dict[str, Any]:
    return {name: service for name, service in services().items() if "cluster" in service.get("profiles", [])}


def as_compose_gives(value: object, host: dict[str, str]) -> str:
    """A value as the container gets it: the host's variables (else their defaults) put in, `$$` a `$`."""
    text = VARIABLE.sub(lambda m: host.get(m["name"], m["default"] or ""), str(value))
    return text.replace("$$", "$")


def environment(service: dict[str, Any], host: dict[str, str]) -> dict[str, str]:
    return {name: as_compose_gives(value, host) for name, value in service.get("environment", {}).items()
            if value is not None}


def runbook_table() -> dict[str, tuple[dict[str, str], str]]:
    """The runbook's table: each service, what it waits for (name: condition) and its "healthy when"."""
    text = RUNBOOK.read_text().split("**With the compose file: the cluster.**", 1)[1]
    rows: dict[str, tuple[dict[str, str], str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 3:
            continue
        waits: dict[str, str] = {}
        for group in cells[1].split(","):  # "`a` `b` healthy", "`c` done"
            word = group.split()[-1]
            waits |= {name: CONDITIONS[word] for name in re.findall(r"`([\w-]+)`", group)}
        rows |= {name: (waits, cells[2]) for name in re.findall(r"`([\w-]+)`", cells[0])}
    return rows


def test_the_profile_is_the_runbooks_table_its_order_and_its_health_checks() -> None:
    table, found = runbook_table(), cluster()
    assert set(table) == set(found) and len(found) == 16
    for name, (waits, healthy_when) in table.items():
        service = found[name]
        assert {dep: how["condition"] for dep, how in service.get("depends_on", {}).items()} == waits, name
        check = service.get("healthcheck", {})
        if healthy_when.startswith("one-shot"):
            assert service["restart"] == "no" and check.get("disable", True), name
        else:
            assert check["test"] and not check.get("disable", False) and check["interval"], name


def test_the_single_server_stack_never_needs_the_cluster_nor_the_cluster_it() -> None:
    """`docker compose up` starts no cluster server; `--profile cluster up web-cluster worker-cluster` starts no
    single server: neither side waits for the other."""
    every, found = services(), cluster()
    for name, service in every.items():
        waits = set(service.get("depends_on", {}))
        assert waits <= set(found) if name in found else not waits & set(found), name


def mounted_template(service: dict[str, Any]) -> tuple[Path, str]:
    mounts = [volume.split(":") for volume in service["volumes"] if volume.startswith("./deploy/cluster/")]
    assert len(mounts) == 1 and mounts[0][2] == "ro", mounts
    return ROOT / mounts[0][0], mounts[0][1]


def setting_lines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


@pytest.fixture
def host() -> dict[str, str]:
    """The host's environment an operator following the runbook sets: every password, nothing else."""
    return {name: os.urandom(12).hex() for name in PASSWORDS}


def filled_in(name: str, host: dict[str, str]) -> str:
    """The service's template as its container fills it in: Debian's envsubst with the service's environment."""
    service = cluster()[name]
    template, target = mounted_template(service)
    assert template.exists() and target in " ".join(service["command"]), name
    done = subprocess.run(["envsubst"], input=template.read_text(), capture_output=True, text=True, check=True,
                          env=environment(service, host))
    return done.stdout


@pytest.mark.parametrize("name", ["etcd1", "pg2", "postgres-haproxy", "redis-master", "redis-replica", "sentinel3"])
def test_each_template_is_filled_in_whole(name: str, host: dict[str, str]) -> None:
    service = cluster()[name]
    template, _ = mounted_template(service)
    wanted = set(PLACEHOLDER.findall(setting_lines(template.read_text())))
    assert wanted and wanted <= set(environment(service, host)), wanted - set(environment(service, host))
    assert all(environment(service, host)[each] for each in wanted), name
    assert "${" not in setting_lines(filled_in(name, host))


def address(service: dict[str, Any]) -> str:
    return str(service["networks"]["default"]["ipv4_address"])


def test_the_addresses_agree_across_the_files(host: dict[str, str]) -> None:
    found = cluster()
    nodes, members = ["pg1", "pg2", "pg3"], ["etcd1", "etcd2", "etcd3"]
    patroni = yaml.safe_load(filled_in("pg2", host))
    assert patroni["name"] == "pg2" and patroni["restapi"]["listen"] == f"{address(found['pg2'])}:8008"
    assert patroni["etcd3"]["hosts"] == ",".join(f"{address(found[m])}:2379" for m in members)
    etcd = dict(re.findall(r'^(ETCD_[A-Z_]+)="([^"]*)"', filled_in("etcd1", host), re.MULTILINE))
    assert etcd["ETCD_INITIAL_CLUSTER"] == ",".join(f"{m}=http://{address(found[m])}:2380" for m in members)
    assert etcd["ETCD_LISTEN_CLIENT_URLS"] == f"http://{address(found['etcd1'])}:2379"
    balancer = filled_in("postgres-haproxy", host)
    assert re.findall(r"server pg\d (\S+):5432 check port 8008", balancer)[:3] == [address(found[n]) for n in nodes]
    sentinel = filled_in("sentinel3", host)
    assert f"sentinel monitor ballot {address(found['redis-master'])} 6379 2" in sentinel
    assert f"replicaof {address(found['redis-master'])} 6379" in filled_in("redis-replica", host)
    fixed = [ipaddress.ip_address(address(s)) for s in found.values() if "ipv4_address" in str(s.get("networks"))]
    network = yaml.safe_load(COMPOSE.read_text())["networks"]["default"]["ipam"]["config"][0]
    subnet = ipaddress.ip_network(as_compose_gives(network["subnet"], {}))
    dynamic = ipaddress.ip_network(as_compose_gives(network["ip_range"], {}))
    assert len(fixed) == len(set(fixed)) == 12 and all(a in subnet and a not in dynamic for a in fixed)


def test_the_first_master_is_the_template_without_its_replicaof(host: dict[str, str]) -> None:
    """The master's command drops the template's last line as the template says the first master must."""
    command = as_compose_gives(cluster()["redis-master"]["command"][2], host)
    sed = re.search(r"sed -e '([^']+)'", command)
    assert sed is not None
    master = subprocess.run(["sed", "-e", sed.group(1)], input=filled_in("redis-master", host), text=True,
                            capture_output=True, check=True).stdout
    assert "replicaof" not in setting_lines(master) and "requirepass" in master


def test_the_service_reaches_the_primary_through_haproxy_and_redis_through_the_sentinels(
        host: dict[str, str]) -> None:
    found = cluster()
    for name in ("migrate-cluster", "web-cluster", "worker-cluster"):
        given = environment(found[name], host)
        database = urlsplit(given["DATABASE_URL"])
        assert (database.hostname, database.username, database.password) == (
            "postgres-haproxy", "ballot", host["POSTGRES_PASSWORD"])
        primary = filled_in("postgres-haproxy", host).split("listen postgres_primary", 1)[1].split("listen ", 1)[0]
        assert f"bind 127.0.0.1:{database.port}" in primary  # the command binds it on every address instead
        assert "'s/bind 127.0.0.1:/bind :/'" in found["postgres-haproxy"]["command"][2]
        redis = parse_sentinel_url(given["REDIS_URL"])
        sentinels = {s: environment(found[s], host) for s in ("sentinel1", "sentinel2", "sentinel3")}
        assert redis.sentinels == tuple((s, int(env["SENTINEL_PORT"])) for s, env in sentinels.items())
        assert {redis.master} == {env["MASTER_NAME"] for env in sentinels.values()} and redis.db == 0
        assert redis.password == host["REDIS_PASSWORD"] and redis.sentinel_password == host["SENTINEL_PASSWORD"]
    assert "web" in found["web-cluster"]["networks"]["default"]["aliases"]  # what deploy/haproxy.cfg finds


@pytest.fixture(scope="module")
def scratch_postgres() -> Iterator[int]:
    """A PostgreSQL of its own (pgserver's binaries, as its system user): the database step makes cluster-wide roles."""
    add_system_user()
    folder = Path(tempfile.mkdtemp(prefix="ballot-compose-db-", dir="/tmp"))
    shutil.chown(folder, "pgserver", "pgserver")
    port = free_port()
    subprocess.run([str(BINARIES / "initdb"), "-D", str(folder / "data"), "--auth=trust", "-U", "postgres"],
                   check=True, capture_output=True, user="pgserver", cwd=folder)
    with (folder / "log").open("ab") as log:
        process = subprocess.Popen([str(BINARIES / "postgres"), "-D", str(folder / "data"), "-h", "127.0.0.1",
                                    "-p", str(port), "-k", str(folder)], user="pgserver", stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + HANG_SECONDS
        while subprocess.run([str(BINARIES / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                             capture_output=True).returncode != 0:
            assert process.poll() is None and time.monotonic() < deadline, "the scratch PostgreSQL did not start"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=HANG_SECONDS)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_database_step_makes_the_services_role_and_database_once(scratch_postgres: int,
                                                                      host: dict[str, str]) -> None:
    service = cluster()["cluster-database"]
    given = environment(service, host) | {"PGHOST": "127.0.0.1", "PGPORT": str(scratch_postgres),
                                          "PATH": os.environ["PATH"]}
    script = as_compose_gives(service["command"][2], host)
    for _ in range(2):  # a restart of the stack runs it again
        done = subprocess.run(["sh", "-c", script], env=given, capture_output=True, text=True, timeout=HANG_SECONDS)
        assert done.returncode == 0, done.stderr
    facts = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(scratch_postgres), "-U", "postgres", "-d", "postgres", "-Atc",
         "SELECT r.rolcanlogin, pg_has_role('ballot', 'pg_monitor', 'member'), d.datdba::regrole::text "
         "FROM pg_roles r, pg_database d WHERE r.rolname = 'ballot' AND d.datname = 'ballot'"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert facts == "t|t|ballot"
    missing = subprocess.run(["sh", "-c", script], env=given | {"BALLOT_PASSWORD": ""}, capture_output=True,
                             text=True, timeout=HANG_SECONDS)
    assert missing.returncode != 0 and "set POSTGRES_PASSWORD" in missing.stderr
